package metrics

// Refused counts one request, websocket upgrade or stream refused with
// 503 because a bound was reached, in itemsapi_admission_refused_total:
// limit is the bound ("websockets", "streams" or "inflight_bytes") and
// scope whether the server as a whole had reached it ("server") or the
// client address its share of it ("address").
func (m *Metrics) Refused(limit, scope string) {
	m.refused.WithLabelValues(limit, scope).Inc()
}

// Admission limits and scopes, the label values of Refused: every series
// starts at 0.
var (
	admissionLimits = []string{"websockets", "streams", "inflight_bytes"}
	admissionScopes = []string{"server", "address"}
)
