package receiver

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// decodeFluxEvent decodes data into fe exactly as json.Unmarshal does, in
// a fraction of its time for the events Flux's controllers send: an object
// of the known keys, each once, with string values (and an object of
// strings for involvedObject and metadata). Whatever else it meets (a key
// of another name or case, null, a number, a surrogate escape, invalid
// UTF-8, malformed JSON) it leaves to encoding/json, which decodes the
// whole body again and says what is wrong with it. FuzzDecodeFluxEvent
// checks that both agree.
func decodeFluxEvent(data []byte, fe *fluxEvent) error {
	d := eventDecoder{data: data}
	if d.event(fe) {
		return nil
	}
	*fe = fluxEvent{}
	return json.Unmarshal(data, fe)
}

// eventDecoder reads a Flux event. Its methods return false for anything
// outside the subset it decodes, leaving the rest of data unread.
type eventDecoder struct {
	data []byte
	pos  int
	// text is data as a string: the strings without escapes are parts of
	// it, one allocation for all.
	text string
}

func (d *eventDecoder) event(fe *fluxEvent) bool {
	d.text = string(d.data)
	var seen uint16
	ok := d.object(func(key []byte) bool {
		var bit uint16
		var s *string
		switch string(key) {
		case "involvedObject":
			bit = 1 << 0
			if !d.involvedObject(fe) {
				return false
			}
		case "severity":
			bit, s = 1<<1, &fe.Severity
		case "timestamp":
			bit = 1 << 2
			if !d.timestamp(fe) {
				return false
			}
		case "message":
			bit, s = 1<<3, &fe.Message
		case "reason":
			bit, s = 1<<4, &fe.Reason
		case "metadata":
			bit = 1 << 5
			if !d.metadata(fe) {
				return false
			}
		case "reportingController":
			bit, s = 1<<6, &fe.ReportingController
		case "reportingInstance":
			bit, s = 1<<7, &fe.ReportingInstance
		default:
			return false
		}
		// encoding/json merges a repeated key into what came before.
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if s != nil {
			var ok bool
			*s, ok = d.str()
			return ok
		}
		return true
	})
	d.skipSpace()
	return ok && d.pos == len(d.data)
}

func (d *eventDecoder) involvedObject(fe *fluxEvent) bool {
	o := &fe.InvolvedObject
	var seen uint8
	return d.object(func(key []byte) bool {
		var bit uint8
		var s *string
		switch string(key) {
		case "kind":
			bit, s = 1<<0, &o.Kind
		case "namespace":
			bit, s = 1<<1, &o.Namespace
		case "name":
			bit, s = 1<<2, &o.Name
		case "uid":
			bit, s = 1<<3, &o.UID
		case "apiVersion":
			bit, s = 1<<4, &o.APIVersion
		case "resourceVersion":
			bit, s = 1<<5, &o.ResourceVersion
		case "fieldPath":
			bit, s = 1<<6, &o.FieldPath
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		var ok bool
		*s, ok = d.str()
		return ok
	})
}

// timestamp decodes as metav1.Time's UnmarshalJSON does.
func (d *eventDecoder) timestamp(fe *fluxEvent) bool {
	s, ok := d.str()
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return false
	}
	fe.Timestamp = &metav1.Time{Time: t.Local()}
	return true
}

// metadata decodes an object of strings; encoding/json makes a map for an
// empty one too.
func (d *eventDecoder) metadata(fe *fluxEvent) bool {
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return false
	}
	fe.Metadata = map[string]string{}
	d.pos++
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return false
		}
		value, ok := d.str()
		if !ok {
			return false
		}
		// A repeated key: the last wins, as in encoding/json.
		fe.Metadata[key] = value
		if !d.consume(',') {
			return d.consume('}')
		}
	}
}

// object reads an object whose keys are plain ASCII, calling field with
// each key to read its value.
func (d *eventDecoder) object(field func(key []byte) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.plainKey()
		if !ok || !d.consume(':') || !field(key) {
			return false
		}
		if !d.consume(',') {
			return d.consume('}')
		}
	}
}

// plainKey reads a key of printable ASCII without escapes.
func (d *eventDecoder) plainKey() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	for i := d.pos; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			key := d.data[d.pos:i]
			d.pos = i + 1
			return key, true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

// str reads a string value: one of printable ASCII is a part of d.text;
// escapes and valid UTF-8 are decoded as encoding/json does.
func (d *eventDecoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start := d.pos
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return d.text[start:i], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			d.pos = i
			return d.unquote(append(make([]byte, 0, 2*(i-start)+16), d.data[start:i]...))
		}
	}
	return "", false
}

// unquote goes on decoding a string from d.pos, after the bytes in buf.
func (d *eventDecoder) unquote(buf []byte) (string, bool) {
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), true
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", false
			}
			esc := d.data[d.pos+1]
			d.pos += 2
			switch esc {
			case '"', '\\', '/':
				buf = append(buf, esc)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				// A surrogate needs its pair, or becomes U+FFFD: left to
				// encoding/json.
				if !ok || !utf8.ValidRune(r) {
					return "", false
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			// Invalid UTF-8 becomes U+FFFD in encoding/json: left to it.
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			buf = append(buf, d.data[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape.
func (d *eventDecoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.pos += 4
	return r, true
}

// consume skips whitespace and then c, if c is next.
func (d *eventDecoder) consume(c byte) bool {
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *eventDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}
