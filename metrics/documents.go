package metrics

// TrustedDocumentRefused counts one document refused by the trusted
// documents check, in itemsapi_trusted_documents_refused_total.
func (m *Metrics) TrustedDocumentRefused() { m.trustedRefused.Inc() }
