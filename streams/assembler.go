package streams

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"
)

// metadataAssembler rebuilds ONVIF metadata documents from RTP packets: a document's packets
// share a timestamp and the last one has the marker bit. A gap in sequence numbers or an
// oversized document drops the document being built, never a later one.
type metadataAssembler struct {
	maxBytes int
	buf      []byte
	docTS    uint32 // RTP timestamp of the document being built
	started  bool   // a document is being built
	nextSeq  uint16
	haveSeq  bool
	lost     error // why the document being built is lost, if it is
}

// Errors of reassembly, reported once per document lost.
var (
	errMetadataGap      = errors.New("a packet of the metadata document was lost")
	errMetadataTooLarge = errors.New("metadata document over the size limit")
)

// push adds a packet; it returns a whole document when p ends one (the slice is reused by the
// next push), or the error that lost a document.
func (a *metadataAssembler) push(p *rtp.Packet) ([]byte, error) {
	var lostBefore error
	if a.started && p.Timestamp != a.docTS {
		// A new document began while one was being built: the old one lost its last packet.
		lostBefore = errMetadataGap
		a.buf, a.lost, a.started = a.buf[:0], nil, false
	}
	if a.haveSeq && p.SequenceNumber != a.nextSeq && a.started && a.lost == nil {
		a.lost = errMetadataGap
	}
	a.nextSeq, a.haveSeq = p.SequenceNumber+1, true
	if !a.started {
		a.docTS, a.started = p.Timestamp, true
	}
	if a.lost == nil {
		if len(a.buf)+len(p.Payload) > a.maxBytes {
			a.lost = fmt.Errorf("%w (%d bytes)", errMetadataTooLarge, a.maxBytes)
			a.buf = a.buf[:0]
		} else {
			a.buf = append(a.buf, p.Payload...)
		}
	}
	if !p.Marker {
		return nil, lostBefore
	}
	doc, err := a.buf, a.lost
	a.buf, a.lost, a.started = a.buf[:0], nil, false
	if err != nil {
		return nil, err
	}
	return doc, lostBefore
}
