package balance

import (
	"bufio"
	"io"
	"sync"
)

// Sizes of the buffered reader and writer an upstream connection borrows for
// one request. A request's headers fit the writer many times over; the
// reader holds a response's headers and the start of its body, and larger
// body reads bypass it (bufio reads straight into the caller's 32 KiB copy
// buffer when it is empty).
const (
	connReadBufferSize  = 8 << 10
	connWriteBufferSize = 4 << 10
)

// A connection holds its bufio reader and writer only while a request is on
// it, not while it sits idle: a pool keeps up to MaxIdleConnsPerHost idle
// connections per upstream, and 12 KiB each would add up to megabytes that
// serve nobody.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, connReadBufferSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, connWriteBufferSize) }}
)

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// putReader recycles br. Its caller must be done with it: no Read may be in
// flight and none may follow.
func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writerPool.Put(bw)
}
