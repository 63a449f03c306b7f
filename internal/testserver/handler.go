package testserver

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/httpapi"
	"itemsapi/items"
	"itemsapi/metrics"
)

// Handler is the API's handler made with cfg over store and broker, as
// server.go makes it: with metrics, on a registry of its own, and with its
// logs discarded.
func Handler(cfg httpapi.Config, store items.Store, broker items.Broker) http.Handler {
	return httpapi.NewHandler(cfg, httpapi.Deps{
		Store:   store,
		Broker:  broker,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: metrics.New(prometheus.NewRegistry()),
	})
}
