package eventlog

import "encoding/binary"

// AppendHeader appends the crypto-agile log header: an EV_NO_ACTION record
// holding a "Spec ID Event03" that declares algs (platform class 0, spec
// version 2.0 errata 0, UINTN size 2 = 64-bit), at register index 0.
func AppendHeader(b []byte, algs []Alg) []byte {
	id := SpecID{VersionMajor: 2, UintnSize: 2}
	for _, a := range algs {
		id.Algorithms = append(id.Algorithms, AlgSize{Alg: a, Size: a.Size()})
	}
	return appendSpecID(b, &id)
}

func appendSpecID(b []byte, id *SpecID) []byte {
	data := append([]byte(nil), specIDSignature...)
	data = binary.LittleEndian.AppendUint32(data, id.PlatformClass)
	data = append(data, id.VersionMinor, id.VersionMajor, id.Errata, id.UintnSize)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(id.Algorithms)))
	for _, a := range id.Algorithms {
		data = binary.LittleEndian.AppendUint16(data, uint16(a.Alg))
		data = binary.LittleEndian.AppendUint16(data, uint16(a.Size))
	}
	data = append(data, byte(len(id.VendorInfo)))
	data = append(data, id.VendorInfo...)
	b = binary.LittleEndian.AppendUint32(b, id.HeaderIndex)
	b = binary.LittleEndian.AppendUint32(b, uint32(EvNoAction))
	b = append(b, make([]byte, 20)...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// AppendEvent appends one TCG_PCR_EVENT2 record.
func AppendEvent(b []byte, e *Event) []byte {
	b = binary.LittleEndian.AppendUint32(b, e.Index)
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Type))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Digests)))
	for _, d := range e.Digests {
		b = binary.LittleEndian.AppendUint16(b, uint16(d.Alg))
		b = append(b, d.Value...)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Data)))
	return append(b, e.Data...)
}

// Marshal encodes the log's header and events, without padding.
func (l *Log) Marshal() []byte {
	b := appendSpecID(nil, &l.SpecID)
	for i := range l.Events {
		b = AppendEvent(b, &l.Events[i])
	}
	return b
}

// NewEvent is an event whose digests, one per algorithm, are the hashes of
// its data.
func NewEvent(index uint32, typ EventType, data []byte, algs ...Alg) Event {
	e := Event{Index: index, Type: typ, Data: data}
	for _, a := range algs {
		e.Digests = append(e.Digests, Digest{Alg: a, Value: a.Sum(data)})
	}
	return e
}
