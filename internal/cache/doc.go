// Package cache is the one bounded cache of the service: a concurrent map
// whose entries are weighed in bytes and whose total stays within a byte
// budget, evicting by S3-FIFO when full.
//
// # Why S3-FIFO
//
// Every cache of the server is keyed by something a client chooses (a
// document, a request body, a token), so a client can send a stream of
// keys that are never asked for again: a scan. Under LRU or CLOCK each of
// them pushes out an entry that the other clients keep asking for. S3-FIFO
// (Yang et al., "FIFO queues are all you need for cache eviction", SOSP
// 2023) admits a new key into a small FIFO queue, a tenth of the budget,
// and moves it to the main queue only if it is read again before it
// reaches the end of the small one; a key read only once leaves through
// the small queue and cannot displace the main queue's entries. The keys
// that left the small queue recently are remembered (as hashes, in a
// ghost queue) so that one that comes back goes straight to the main
// queue. The main queue evicts like CLOCK with a count of up to three
// reads. As with CLOCK, a read takes no lock: it loads the entry from a
// sync.Map and bumps its count only when the count is not at its top, so
// that cores reading the same hot entry do not contend.
package cache
