package receiver

import (
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
