package receiver

import (
	"net/http"
	"time"
)

// NewServer returns the HTTP server that serves h on addr, as the receiver
// command runs it (and its benchmark measures it).
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadTimeout:       30 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    256 * 1024,
	}
}
