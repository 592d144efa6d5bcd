// Package sim is a simulated Intel TEE: it produces byte-exact, correctly
// signed SGX (version 3) and TDX (version 4) DCAP quotes with chosen
// measurements, under a generated simulation root CA, together with the
// matching collateral (TCB Info, QE Identity, CRLs). It lets the whole
// RA-TLS path — issuing certificates, verifying quotes, appraising policies —
// run on machines without SGX or TDX.
//
// WARNING: simulated evidence proves nothing. No hardware measured or
// protected anything; whoever has the simulation's seed (sim.json) can
// produce quotes with any measurements and report data. Trust a simulation
// root only in development and tests, never in production. Every
// certificate of a simulation says so: the root is "ratls Simulated SGX
// Root CA" with organization [intel.SimulatedOrganization], and the PCK CAs,
// the TCB signer and the PCK certificates are named "ratls Simulated SGX
// ...". Verifiers that trust only Intel's root reject simulated quotes.
//
// A simulation is fully determined by a 32-byte seed and a reference time:
// every key, serial number and identifier is derived from the seed, and all
// signatures are deterministic (RFC 6979). So a simulation can be kept on
// disk without private keys:
//
//	sim.Init(dir, sim.InitOptions{})   // writes sim.json, root.pem, sgx/, tdx/
//	s, _ := sim.Load(dir)              // rebuilds the same PKI from sim.json
//	att, _ := s.Attester("tdx", sim.Measurements{})
//	ev, _ := att.Attest(ctx, reportData)
//
// and verifiers are given root.pem as a trusted root and sgx/ or tdx/ as
// offline collateral (the layout of collateral/pcs.LoadDir). Tests use
// [New] for an in-memory simulation.
//
// The directory written by [Init] holds:
//
//	sim.json   {"version":1,"seed":"<64 hex digits>","now":"<RFC 3339>","validity":"<duration>"} (mode 0600)
//	root.pem   the simulation root CA certificate
//	sgx/       collateral of the simulated SGX platform
//	tdx/       collateral of the simulated TDX platform
//
// The simulated platforms are the default platforms of the DCAP test PKI
// (testing/dcaptest's DefaultPlatform, which the simulator shares):
// every quote evaluates to TCB status UpToDate at the reference time, and
// the collateral is valid from a day before the reference time until the
// reference time plus InitOptions.Validity.
package sim
