package quote

import "fmt"

// Report type values of sgx_report2_t / TDREPORT.
const (
	ReportTypeSGX uint8 = 0x00
	ReportTypeTDX uint8 = 0x81

	// Report2VersionServiceTD is the report_type.version that marks
	// TEE_INFO.mr_servicetd as in use (TDX 1.5); version 0 predates it.
	Report2VersionServiceTD uint8 = 1
)

// ReportType is the 4-byte report_type at the start of sgx_report2_t.
type ReportType struct {
	Type     uint8 // 0x81 TDX, 0x00 SGX
	Subtype  uint8 // 0
	Version  uint8 // 0, or 1 when mr_servicetd is used
	Reserved uint8
}

// TEETCBInfo is tee_tcb_info (239 bytes) of sgx_report2_t: the TDX module
// measurements.
type TEETCBInfo struct {
	Valid        [8]byte // bitmap of the valid fields
	TEETCBSVN    [16]byte
	MRSEAM       [48]byte
	MRSignerSEAM [48]byte
	Attributes   [8]byte // SEAM attributes
	TEETCBSVN2   [16]byte
	Reserved     [95]byte
}

// Report2 is sgx_report2_t, the 1024-byte TDREPORT, payload of the
// Interoperable RA-TLS tag 60001. Its MAC can only be checked on the
// platform that produced it.
//
// Layout: REPORTMACSTRUCT (256) | tee_tcb_info (239) | reserved (17) |
// tee_info (512).
type Report2 struct {
	ReportType     ReportType
	Reserved1      [12]byte
	CPUSVN         [16]byte
	TEETCBInfoHash [48]byte // SHA-384 of tee_tcb_info
	TEEInfoHash    [48]byte // SHA-384 of tee_info
	ReportData     [64]byte
	Reserved2      [32]byte
	MAC            [32]byte
	TEETCBInfo     TEETCBInfo
	Reserved3      [17]byte

	// TD presents the report in the shape of a TD quote body so it can be
	// compared with one: TEETCBSVN, MRSEAM, MRSignerSEAM, SEAMAttributes and
	// TEETCBSVN2 are copied from TEETCBInfo, ReportData from the REPORTMACSTRUCT,
	// and the tee_info fields (TDAttributes, XFAM, MRTD, MRConfigID, MROwner,
	// MROwnerConfig, RTMR, MRServiceTD) are decoded into it. V15 is set when
	// ReportType.Version >= 1.
	//
	// Marshal takes tee_info from TD, but tee_tcb_info from TEETCBInfo and
	// report_data from ReportData.
	TD TDReportBody
	// TEEInfoReserved is the reserved tail of tee_info.
	TEEInfoReserved [64]byte
}

// Offsets inside sgx_report2_t.
const (
	r2TEETCBInfo = 256
	r2Reserved3  = 495
	r2TEEInfo    = 512
)

// ParseReport2 decodes a 1024-byte sgx_report2_t. It accepts report types
// 0x81 (TDX) and 0x00 (SGX) with subtype 0 and version 0 or 1.
func ParseReport2(b []byte) (*Report2, error) {
	if len(b) != Report2Size {
		return nil, sizeErr("report2 (TDREPORT)", Report2Size, len(b))
	}
	r := new(Report2)
	r.ReportType = ReportType{Type: b[0], Subtype: b[1], Version: b[2], Reserved: b[3]}
	if t := r.ReportType.Type; t != ReportTypeTDX && t != ReportTypeSGX {
		return nil, formatErr(ErrUnsupported, "report2 report_type.type", "0x81 (TDX) or 0x00 (SGX)", fmt.Sprintf("0x%02x", t))
	}
	if r.ReportType.Subtype != 0 {
		return nil, formatErr(ErrUnsupported, "report2 report_type.subtype", "0", r.ReportType.Subtype)
	}
	if r.ReportType.Version > Report2VersionServiceTD {
		return nil, formatErr(ErrUnsupported, "report2 report_type.version", "0 or 1", r.ReportType.Version)
	}
	copy(r.Reserved1[:], b[4:16])
	copy(r.CPUSVN[:], b[16:32])
	copy(r.TEETCBInfoHash[:], b[32:80])
	copy(r.TEEInfoHash[:], b[80:128])
	copy(r.ReportData[:], b[128:192])
	copy(r.Reserved2[:], b[192:224])
	copy(r.MAC[:], b[224:256])

	t := b[r2TEETCBInfo:r2Reserved3]
	ti := &r.TEETCBInfo
	copy(ti.Valid[:], t[0:8])
	copy(ti.TEETCBSVN[:], t[8:24])
	copy(ti.MRSEAM[:], t[24:72])
	copy(ti.MRSignerSEAM[:], t[72:120])
	copy(ti.Attributes[:], t[120:128])
	copy(ti.TEETCBSVN2[:], t[128:144])
	copy(ti.Reserved[:], t[144:239])
	copy(r.Reserved3[:], b[r2Reserved3:r2TEEInfo])

	e := b[r2TEEInfo:]
	td := &r.TD
	copy(td.TDAttributes[:], e[0:8])
	copy(td.XFAM[:], e[8:16])
	copy(td.MRTD[:], e[16:64])
	copy(td.MRConfigID[:], e[64:112])
	copy(td.MROwner[:], e[112:160])
	copy(td.MROwnerConfig[:], e[160:208])
	for i := range td.RTMR {
		copy(td.RTMR[i][:], e[208+48*i:256+48*i])
	}
	copy(td.MRServiceTD[:], e[400:448])
	copy(r.TEEInfoReserved[:], e[448:512])

	td.TEETCBSVN = ti.TEETCBSVN
	td.MRSEAM = ti.MRSEAM
	td.MRSignerSEAM = ti.MRSignerSEAM
	td.SEAMAttributes = ti.Attributes
	td.TEETCBSVN2 = ti.TEETCBSVN2
	td.ReportData = r.ReportData
	td.V15 = r.ReportType.Version >= Report2VersionServiceTD
	return r, nil
}

// IsTDX reports whether this is a TDREPORT (report_type.type 0x81).
func (r *Report2) IsTDX() bool { return r.ReportType.Type == ReportTypeTDX }

// Marshal returns the exact 1024-byte encoding (see the TD field for which
// fields are used).
func (r *Report2) Marshal() []byte {
	b := make([]byte, 0, Report2Size)
	b = append(b, r.ReportType.Type, r.ReportType.Subtype, r.ReportType.Version, r.ReportType.Reserved)
	b = append(b, r.Reserved1[:]...)
	b = append(b, r.CPUSVN[:]...)
	b = append(b, r.TEETCBInfoHash[:]...)
	b = append(b, r.TEEInfoHash[:]...)
	b = append(b, r.ReportData[:]...)
	b = append(b, r.Reserved2[:]...)
	b = append(b, r.MAC[:]...)

	ti := &r.TEETCBInfo
	b = append(b, ti.Valid[:]...)
	b = append(b, ti.TEETCBSVN[:]...)
	b = append(b, ti.MRSEAM[:]...)
	b = append(b, ti.MRSignerSEAM[:]...)
	b = append(b, ti.Attributes[:]...)
	b = append(b, ti.TEETCBSVN2[:]...)
	b = append(b, ti.Reserved[:]...)
	b = append(b, r.Reserved3[:]...)

	td := &r.TD
	b = append(b, td.TDAttributes[:]...)
	b = append(b, td.XFAM[:]...)
	b = append(b, td.MRTD[:]...)
	b = append(b, td.MRConfigID[:]...)
	b = append(b, td.MROwner[:]...)
	b = append(b, td.MROwnerConfig[:]...)
	for i := range td.RTMR {
		b = append(b, td.RTMR[i][:]...)
	}
	b = append(b, td.MRServiceTD[:]...)
	return append(b, r.TEEInfoReserved[:]...)
}
