module github.com/ratls/ratls/examples/grpc

go 1.26.0

require (
	github.com/ratls/ratls v0.0.0
	google.golang.org/grpc v1.85.0
)

require (
	github.com/fxamacker/cbor/v2 v2.9.0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/veraison/go-cose v1.3.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/ratls/ratls => ../..
