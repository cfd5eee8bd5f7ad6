package camsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/haidang-ioc/ioc/internal/digest"
)

// The camera's ONVIF web services, as much of them as a client needs for a still picture:
// the device service's GetCapabilities (where the media service is), the media service's
// GetProfiles and GetSnapshotUri, and the snapshot itself, a JPEG of what the camera shows.
// SOAP calls are authenticated with a WS-Security UsernameToken (password digest) and the
// snapshot with HTTP digest authentication, as cameras do.

// ONVIF paths of a simulated camera.
const (
	DeviceServicePath = "/onvif/device_service"
	mediaServicePath  = "/onvif/media_service"
	snapshotPath      = "/onvif/snapshot.jpg"
	digestRealm       = "camsim"
)

// DeviceURL is the camera's ONVIF device service, empty without ONVIFAddr.
func (c *Camera) DeviceURL() string {
	if c.cfg.ONVIFAddr == "" {
		return ""
	}
	return "http://" + c.cfg.ONVIFAddr + DeviceServicePath
}

// startONVIF serves the camera's ONVIF services on cfg.ONVIFAddr until Close.
func (c *Camera) startONVIF() error {
	ln, err := net.Listen("tcp", c.cfg.ONVIFAddr)
	if err != nil {
		return fmt.Errorf("camera %s: ONVIF on %s: %w", c.cfg.ID, c.cfg.ONVIFAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+DeviceServicePath, c.soap)
	mux.HandleFunc("POST "+mediaServicePath, c.soap)
	mux.HandleFunc("GET "+snapshotPath, c.snapshot)
	c.web = &http.Server{Handler: c.faulty(mux), ReadHeaderTimeout: 10 * time.Second}
	go c.web.Serve(ln) // owned by c: Close shuts it down
	return nil
}

// faulty makes the web services fail as the camera's fault says: refused or hanging
// connections; a stall leaves them answering, as a camera's web server often does.
func (c *Camera) faulty(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		f := c.fault
		c.mu.Unlock()
		switch {
		case f.Refuse:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			http.Error(w, "refused", http.StatusServiceUnavailable)
		case f.Hang:
			select {
			case <-r.Context().Done():
			case <-c.done:
			}
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// soap answers the device and media services' calls.
func (c *Camera) soap(w http.ResponseWriter, r *http.Request) {
	var env struct {
		Header struct {
			Token struct {
				Username string `xml:"Username"`
				Password string `xml:"Password"`
				Nonce    string `xml:"Nonce"`
				Created  string `xml:"Created"`
			} `xml:"Security>UsernameToken"`
		} `xml:"Header"`
		Body struct {
			Call struct {
				XMLName xml.Name
				Profile string `xml:"ProfileToken"`
			} `xml:",any"`
		} `xml:"Body"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&env); err != nil {
		soapFault(w, http.StatusBadRequest, "env:Sender", "malformed request: "+err.Error())
		return
	}
	if c.cfg.User != "" {
		tok := env.Header.Token
		if tok.Username != c.cfg.User || !passwordDigestOK(tok.Password, tok.Nonce, tok.Created, c.cfg.Password) {
			soapFault(w, http.StatusUnauthorized, "env:Sender", "not authorized")
			return
		}
	}
	var body string
	switch call := env.Body.Call.XMLName.Local; {
	case call == "GetCapabilities" && r.URL.Path == DeviceServicePath:
		body = `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>http://` + r.Host + mediaServicePath +
			`</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`
	case call == "GetProfiles" && r.URL.Path == mediaServicePath:
		body = `<trt:GetProfilesResponse><trt:Profiles token="main" fixed="true"><tt:Name>main</tt:Name></trt:Profiles></trt:GetProfilesResponse>`
	case call == "GetSnapshotUri" && r.URL.Path == mediaServicePath && env.Body.Call.Profile == "main":
		body = `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>http://` + r.Host + snapshotPath +
			`</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect></trt:MediaUri></trt:GetSnapshotUriResponse>`
	case call == "GetSnapshotUri":
		soapFault(w, http.StatusBadRequest, "env:Sender", "no such profile")
		return
	default:
		soapFault(w, http.StatusBadRequest, "env:Receiver", "action not supported: "+call)
		return
	}
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	fmt.Fprint(w, envelopeOpen+body+envelopeClose)
}

const (
	envelopeOpen = `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" ` +
		`xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ` +
		`xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><env:Body>`
	envelopeClose = `</env:Body></env:Envelope>`
)

func soapFault(w http.ResponseWriter, status int, code, reason string) {
	var esc bytes.Buffer
	xml.EscapeText(&esc, []byte(reason))
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, envelopeOpen+`<env:Fault><env:Code><env:Value>`+code+`</env:Value></env:Code><env:Reason><env:Text xml:lang="en">`+
		esc.String()+`</env:Text></env:Reason></env:Fault>`+envelopeClose)
}

// passwordDigestOK checks a UsernameToken's password digest.
func passwordDigestOK(got, nonce64, created, password string) bool {
	nonce, err := base64.StdEncoding.DecodeString(nonce64)
	return err == nil && subtle.ConstantTimeCompare([]byte(got), []byte(digest.PasswordDigest(nonce, created, password))) == 1
}

// snapshot answers a JPEG of the camera's picture now, to a client with its credentials.
func (c *Camera) snapshot(w http.ResponseWriter, r *http.Request) {
	if c.cfg.User != "" && !digest.Check(r.Header.Get("Authorization"), r.Method, r.URL.RequestURI(), digestRealm, c.cfg.User, c.cfg.Password) {
		nonce := make([]byte, 16)
		rand.Read(nonce)
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", nonce=%q, algorithm=MD5`, digestRealm, hex.EncodeToString(nonce)))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var img image.Image
	if c.gop.pic != nil {
		img = c.gop.pic.frame(time.Now())
	} else { // a grey camera's picture is flat grey, as its video
		g := image.NewGray(image.Rect(0, 0, c.cfg.Width, c.cfg.Height))
		for i := range g.Pix {
			g.Pix[i] = 128
		}
		img = g
	}
	if y, ok := img.(*image.YCbCr); ok { // the coded frame is macroblock-aligned: crop it
		img = y.SubImage(image.Rect(0, 0, c.cfg.Width, c.cfg.Height))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(buf.Bytes())
}

// closeONVIF stops the web services.
func (c *Camera) closeONVIF() {
	if c.web == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.web.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		c.log.Warn("stop ONVIF services", "err", err)
	}
	c.web.Close()
}
