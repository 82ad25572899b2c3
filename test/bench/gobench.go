package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// goPackages hold the Go benchmarks of the admission, validation and
// delivery code.
var goPackages = []string{"./pkg/admission/...", "./pkg/apis/...", "./pkg/delivery/...", "./pkg/registry/..."}

func (b *bench) goBenchmarks(ctx context.Context) error {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", "1s"}, goPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	err := cmd.Run()
	b.results.GoBenchmarks = append(b.results.GoBenchmarks, parseGoBench(out.String())...)
	return err
}

// parseGoBench reads `go test -bench -benchmem` output.
func parseGoBench(out string) []GoBenchmark {
	var res []GoBenchmark
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "pkg:" {
			pkg = f[1]
			continue
		}
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		g := GoBenchmark{Package: pkg, Name: strings.TrimPrefix(f[0], "Benchmark")}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				g.NsPerOp = v
			case "B/op":
				g.BytesPerOp = v
			case "allocs/op":
				g.AllocsPerOp = v
			}
		}
		res = append(res, g)
	}
	return res
}
