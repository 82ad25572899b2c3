//go:build tools

// Package hack pins the code generators in go.mod so that
// hack/update-codegen.sh runs the versions this module was built with.
package hack

import (
	_ "k8s.io/code-generator"
)
