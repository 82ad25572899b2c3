// Command notification-apiserver serves the Flux notification API as a
// Kubernetes aggregated API server.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/notification-apiserver/notification-apiserver/pkg/cmd/receiver"
	"github.com/notification-apiserver/notification-apiserver/pkg/cmd/server"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	cmd := server.NewCommand(ctx)
	cmd.AddCommand(receiver.NewCommand())
	os.Exit(cli.Run(cmd))
}
