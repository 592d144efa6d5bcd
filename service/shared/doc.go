// Package shared keeps collateral shared by all replicas through the store:
// Intel DCAP collateral (Intel, a pcs.Provider) and AMD SEV-SNP certificates
// (AMD, a kds.Provider) are fetched from upstream by one replica, written to
// the store.Store every replica uses, and served from there to the others.
//
// # Stack
//
// The service puts these providers between an in-memory cache and the
// upstream client:
//
//	pcs.Cache (memory, per replica, no Dir) → shared.Intel (store) → pcs.Client (Intel PCS)
//	kds.Cache (memory, per replica, no Dir) → shared.AMD (store)   → kds.Client (AMD KDS)
//
// The in-memory cache answers almost every request without a database
// round trip and shares one lookup among concurrent requests. Intel and AMD
// ask the store only when the replica's memory has nothing valid, so that a
// new or restarted replica, or one whose entry expired, takes what another
// replica already fetched instead of asking Intel or AMD again (KDS in
// particular rate-limits hard). A disk Dir is not needed: the store is the
// persistent copy.
//
// # Rules
//
// A store entry is served while its NextUpdate, and the earliest
// nextUpdate of the decoded collateral itself, lie after now; then it is
// fetched again. Nothing expired is ever served: collateral that upstream
// returns already expired is refused (the rule of pcs.Cache and kds.Cache),
// and an expired entry whose refetch fails gives an error. The store, by
// contrast, may fail without failing requests: a store error is logged and
// counted, and the collateral fetched from upstream is returned (fail closed
// on expiry, not on store outages).
//
// Entries are decoded with pcs.ParseCollateral and kds.ParseCertificates,
// which run every item through the parsers used for upstream responses; an
// entry that does not decode, or that does not answer its key's request, is
// logged, counted and fetched again, and the fresh copy replaces it unless
// the store keeps the bad one for its later NextUpdate.
//
// When upstream is unavailable (its error matches pcs.ErrUnavailable or
// kds.ErrUnavailable), a replica does not ask it again for that key until a
// backoff has passed: 5 s after the first failure, doubling up to 5 min, or
// as long as upstream's Retry-After asks (up to an hour). Meanwhile it still
// reads the store, which another replica may have filled, and answers a
// miss at once with a *pcs.UnavailableError or *kds.UnavailableError
// saying when upstream is asked again. The in-memory caches in front pass
// these through, so each request still looks at the store.
//
// The same pointer is returned for as long as an entry's bytes are
// unchanged, also when another replica rewrites identical collateral, so
// verifiers can keep caching their verification by pointer. Concurrent
// requests for one key in one process share a single store lookup and
// fetch; replicas do not coordinate, so two of them may occasionally fetch
// the same collateral, and the store keeps the one with the later
// NextUpdate.
package shared
