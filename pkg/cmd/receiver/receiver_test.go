package receiver

import (
	"runtime"
	"strings"
	"testing"
)

func TestFlagsThatCannotWorkAreRefusedByName(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" when valid
	}{
		{nil, ""},
		{[]string{"--batch-gather=0", "--max-batch-events=1"}, ""},
		{[]string{"--batch-gather=-1ms"}, "--batch-gather must not be negative"},
		{[]string{"--max-batch-events=-2"}, "--max-batch-events must not be negative"},
		{[]string{"--api-timeout=0s"}, "--api-timeout must be positive"},
		{[]string{"--max-procs=0"}, ""},
		{[]string{"--max-procs=-1"}, "--max-procs must not be negative"},
	} {
		cmd, o := newCommand()
		if err := cmd.Flags().Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		err := o.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: refused: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

func TestMaxProcsSetsGOMAXPROCSUnlessTheEnvironmentDidAndTheFlagWasNotGiven(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	for _, tc := range []struct {
		name    string
		o       Options
		initial int
		want    int
	}{
		{"the default", Options{MaxProcs: 1}, 3, 1},
		{"given", Options{MaxProcs: 2}, 3, 2},
		{"0, Go's choice", Options{MaxProcs: 0}, 3, 3},
		{"GOMAXPROCS in the environment", Options{MaxProcs: 1, maxProcsFromEnv: true}, 3, 3},
	} {
		runtime.GOMAXPROCS(tc.initial)
		tc.o.setMaxProcs()
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("%s: GOMAXPROCS %d, want %d", tc.name, got, tc.want)
		}
	}
}
