package receiver

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// maxPooledBody is the largest body buffer kept for reuse: events are a
// few hundred bytes, and a rare large one should not pin megabytes.
const maxPooledBody = 64 * 1024

// bodyPool keeps request-body buffers for reuse. An event is decoded into
// strings of its own, so its buffer can take the next request's body.
type bodyPool struct{ pool sync.Pool }

// Read reads r's body, up to one byte past MaxBodyBytes (so that the
// caller can tell a body too large), into a buffer from the pool.
func (p *bodyPool) Read(r *http.Request) (*bytes.Buffer, error) {
	buf, _ := p.pool.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if r.ContentLength > 0 && r.ContentLength <= MaxBodyBytes {
		// Room for the body and the read that finds its end.
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(&io.LimitedReader{R: r.Body, N: MaxBodyBytes + 1})
	return buf, err
}

// Put returns buf to the pool, unless it grew large.
func (p *bodyPool) Put(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		p.pool.Put(buf)
	}
}
