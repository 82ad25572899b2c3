//go:build tools

// Package fluxpeer pins Flux's notification-controller, built by make bench
// (hack/build-flux-peer.sh) to measure our delivery beside it in the same run.
package fluxpeer

import _ "github.com/fluxcd/notification-controller"
