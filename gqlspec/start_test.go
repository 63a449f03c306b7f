package gqlspec_test

import (
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/gqlspec"
)

func TestOperationStart(t *testing.T) {
	request := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	read := request.Add(time.Second)
	tests := []struct {
		name          string
		request, read time.Time
		want          time.Time
	}{
		{"read after the request", request, read, read},
		{"read before the request", read, request, read},
		{"no read", request, time.Time{}, request},
		{"no request", time.Time{}, read, read},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oc := &graphql.OperationContext{}
			oc.Stats.OperationStart = tt.request
			oc.Stats.Read.Start = tt.read
			if got := gqlspec.OperationStart(oc); !got.Equal(tt.want) {
				t.Errorf("OperationStart(%v, %v) = %v, want %v", tt.request, tt.read, got, tt.want)
			}
		})
	}
	t.Run("neither", func(t *testing.T) {
		before := time.Now()
		got := gqlspec.OperationStart(&graphql.OperationContext{})
		if got.Before(before) || got.After(time.Now()) {
			t.Errorf("OperationStart(zero, zero) = %v, want now (%v)", got, before)
		}
	})
}
