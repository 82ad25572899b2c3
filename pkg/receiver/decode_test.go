package receiver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// decodeCases are bodies the fast decoder reads itself (fast) or leaves
// to encoding/json.
var decodeCases = []struct {
	name string
	body string
	fast bool
}{
	{"a kustomize-controller event", benchEvent, true},
	{"an event with whitespace around everything", " {\n \"severity\" : \"info\" ,\t\"metadata\" : { \"a\" : \"b\" } , \"involvedObject\" : { \"kind\" : \"K\" } }\r\n", true},
	{"an empty object", `{}`, true},
	{"empty involvedObject and metadata", `{"involvedObject":{},"metadata":{}}`, true},
	{"escapes as Go's encoding/json writes them", `{"message":"a \"quoted\" \\ path\/x\n\t<b>: \u003cb\u003e \u0026 \u2028 \u00e9\b\f\r"}`, true},
	{"UTF-8 as is", `{"message":"héllo wörld ✓ 😀","metadata":{"ключ":"значение"}}`, true},
	{"all the fields", `{"involvedObject":{"kind":"K","namespace":"n","name":"a","uid":"u","apiVersion":"v","resourceVersion":"1","fieldPath":"f"},` +
		`"severity":"error","timestamp":"2022-10-28T07:26:19+02:00","message":"m","reason":"r","metadata":{"k":"v","k":"w"},` +
		`"reportingController":"c","reportingInstance":"i"}`, true},

	{"an unknown key", `{"severity":"info","extra":1}`, false},
	{"a key in another case", `{"Severity":"info"}`, false},
	{"a repeated key", `{"message":"a","message":"b"}`, false},
	{"a repeated involvedObject key", `{"involvedObject":{"name":"a","name":"b"}}`, false},
	{"null", `{"message":null}`, false},
	{"null metadata", `{"metadata":null}`, false},
	{"a number", `{"severity":3}`, false},
	{"a surrogate pair", `{"message":"\ud83d\ude00"}`, false},
	{"a lone surrogate", `{"message":"\ud83d"}`, false},
	{"invalid UTF-8", "{\"message\":\"\xff\xfe\"}", false},
	{"a control character", "{\"message\":\"a\tb\"}", false},
	{"a bad escape", `{"message":"\x"}`, false},
	{"a short \\u escape", `{"message":"\u12"}`, false},
	{"a timestamp that is not RFC 3339", `{"timestamp":"yesterday"}`, false},
	{"a trailing comma", `{"message":"a",}`, false},
	{"truncated", `{"involvedObject":`, false},
	{"trailing data", `{"message":"a"} x`, false},
	{"two objects", `{}{}`, false},
	{"not JSON", `<xml/>`, false},
	{"empty", ``, false},
	{"null at the top", `null`, false},
	{"an escaped key", `{"messag\u0065":"a"}`, false},
}

func TestDecodeFluxEventAgreesWithEncodingJSON(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			var fast fluxEvent
			d := eventDecoder{data: []byte(tc.body)}
			if ok := d.event(&fast); ok != tc.fast {
				t.Errorf("decoded by the fast path: %v, want %v", ok, tc.fast)
			}
			agreeWithEncodingJSON(t, []byte(tc.body))
		})
	}
}

func FuzzDecodeFluxEvent(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(agreeWithEncodingJSON)
}

// agreeWithEncodingJSON checks that the fast path decodes only what
// encoding/json decodes, into the same event, and that decodeFluxEvent
// answers as encoding/json does.
func agreeWithEncodingJSON(t *testing.T, data []byte) {
	var want fluxEvent
	wantErr := json.Unmarshal(data, &want)

	var fast fluxEvent
	d := eventDecoder{data: data}
	if d.event(&fast) {
		if wantErr != nil {
			t.Fatalf("the fast path decoded %q, which encoding/json refuses: %v", data, wantErr)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("the fast path decoded %q as\n%+v\nencoding/json as\n%+v", data, fast, want)
		}
	}

	var got fluxEvent
	err := decodeFluxEvent(data, &got)
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("decoding %q: error %v, encoding/json's %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %q as\n%+v\nencoding/json as\n%+v", data, got, want)
	}
}

func TestDecodeFluxEventCopiesItsStrings(t *testing.T) {
	data := []byte(`{"message":"plain","reason":"esc\u0061ped"}`)
	var fe fluxEvent
	if err := decodeFluxEvent(data, &fe); err != nil {
		t.Fatal(err)
	}
	copy(data, strings.Repeat("x", len(data))) // the body buffer is reused
	if fe.Message != "plain" || fe.Reason != "escaped" {
		t.Errorf("the event changed with its body: %+v", fe)
	}
}

func BenchmarkDecodeFluxEvent(b *testing.B) {
	data := []byte(benchEvent)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var fe fluxEvent
			if err := decodeFluxEvent(data, &fe); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var fe fluxEvent
			if err := json.Unmarshal(data, &fe); err != nil {
				b.Fatal(err)
			}
		}
	})
}
