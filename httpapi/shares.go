package httpapi

import (
	"log/slog"
	"math"
	"net/http"
	"net/netip"

	"github.com/go-chi/chi/v5/middleware"

	"itemsapi/metrics"
)

// Shares per client address: the server's bounds on what clients hold at
// once (MaxWebsockets, MaxStreams, MaxInflightBytes) are shared by every
// client, so one address could take all of a bound and lock the others
// out. Each address may hold at most MaxSharePerAddress of each bound (a
// quarter by default: 250 websockets, 250 streams, 16 MiB of bytes in
// flight); past its share it gets the refusal it would get past the
// bound (503 with Retry-After, and for bytes in flight the wait of
// inflightWait first), with a message naming the share, and
// itemsapi_admission_refused_total counts it with scope="address", and a
// warning is logged the first time an address is refused, until it holds
// less than its share again (not a line per refusal). The
// address is the one the rate limiter uses (addressOf): the TCP peer, or
// behind TrustedProxies the first untrusted hop of X-Forwarded-For, an
// IPv6 address by its /64.

// DefaultSharePerAddress is the default of Config.MaxSharePerAddress.
const DefaultSharePerAddress = 0.25

// addressOf returns the client address r is attributed to, as the rate
// limiter keys it: the address that clientAddress stored, or else the TCP
// peer (no trusted proxies, or a forwarded address that could not be
// told, which every such request shares); an IPv6 address stands for its
// /64, as one client holds the whole prefix. It is the zero Addr when the
// peer is no IP address (a Unix socket): such requests have no share.
func addressOf(r *http.Request) netip.Addr {
	a := middleware.GetClientIPAddr(r.Context())
	if !a.IsValid() {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr().Unmap()
	}
	if a.Is6() {
		p, err := a.WithZone("").Prefix(64)
		if err == nil {
			a = p.Addr()
		}
	}
	return a
}

// shareOf returns what one address may hold of bound: frac of it,
// rounded up, and at least 1; all of it when frac is 0 or 1 (or more),
// which turns the share off.
func shareOf(bound int64, frac float64) int64 {
	if frac <= 0 || frac >= 1 || bound <= 0 {
		return bound
	}
	return max(1, int64(math.Ceil(float64(bound)*frac)))
}

// addressCounts counts what each client address holds of one bound. Its
// user holds the lock that guards it.
type addressCounts struct {
	// share is what one address may hold; 0 or less: no share.
	share int64
	held  map[netip.Addr]int64
	// warned are the addresses refused since they last held less than
	// their share: logged once.
	warned map[netip.Addr]struct{}
}

func newAddressCounts(bound int64, frac float64) addressCounts {
	share := shareOf(bound, frac)
	if share >= bound {
		share = 0
	}
	return addressCounts{share: share, held: map[netip.Addr]int64{}, warned: map[netip.Addr]struct{}{}}
}

// refused records that addr was refused for its share, and reports
// whether it is the first time since it last held less than its share:
// the time to log it.
func (a *addressCounts) refused(addr netip.Addr) bool {
	if _, ok := a.warned[addr]; ok {
		return false
	}
	a.warned[addr] = struct{}{}
	return true
}

// on reports whether shares are counted.
func (a *addressCounts) on() bool { return a.share > 0 }

// fits reports whether addr may hold n more. The zero Addr always may.
func (a *addressCounts) fits(addr netip.Addr, n int64) bool {
	return a.share <= 0 || !addr.IsValid() || a.held[addr]+n <= a.share
}

// add counts n more (or, negative, less) for addr.
func (a *addressCounts) add(addr netip.Addr, n int64) {
	if a.share <= 0 || !addr.IsValid() {
		return
	}
	v := a.held[addr] + n
	if v > 0 {
		a.held[addr] = v
	} else {
		delete(a.held, addr)
	}
	if n < 0 && v < a.share {
		delete(a.warned, addr)
	}
}

// of returns what addr holds.
func (a *addressCounts) of(addr netip.Addr) int64 { return a.held[addr] }

// Labels of itemsapi_admission_refused_total.
const (
	limitWebsockets    = "websockets"
	limitStreams       = "streams"
	limitInflightBytes = "inflight_bytes"
)

// warnShare logs that addr was refused at limit for its share of bound,
// when log is not nil.
func warnShare(log *slog.Logger, addr netip.Addr, limit string, share, bound int64) {
	if log == nil {
		return
	}
	log.Warn("a client address holds its share of a bound: refused until it holds less",
		"addr", addr.String(), "limit", limit, "share", share, "bound", bound)
}

// countRefused counts one refusal at limit, by the address's share or by
// the server's bound, when m is not nil.
func countRefused(m *metrics.Metrics, limit string, byAddress bool) {
	if m == nil {
		return
	}
	scope := "server"
	if byAddress {
		scope = "address"
	}
	m.Refused(limit, scope)
}
