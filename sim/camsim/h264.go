package camsim

import (
	"fmt"
	"time"
)

// H.264 made without an encoder: every picture is a flat grey frame that any decoder accepts.
// The IDR picture codes each macroblock as Intra 16x16 with DC prediction and no residual
// (8 bits per macroblock); the P pictures skip every macroblock. The SPS carries VUI timing, so
// clients read the frame rate from it, and filler NAL units pad access units to a target
// bitrate. This gives the simulator real, decodable video of any size at almost no CPU cost.

// videoParams are what the generated stream looks like.
type videoParams struct {
	Width, Height int
	FPS           int
}

func (p videoParams) mbWidth() int  { return (p.Width + 15) / 16 }
func (p videoParams) mbHeight() int { return (p.Height + 15) / 16 }

// bitWriter writes an RBSP most significant bit first.
type bitWriter struct {
	buf  []byte
	bits int // bits used in the last byte; 0 or 8 means a new byte is needed
}

func (w *bitWriter) bit(b uint) {
	if w.bits == 0 || w.bits == 8 {
		w.buf = append(w.buf, 0)
		w.bits = 0
	}
	if b != 0 {
		w.buf[len(w.buf)-1] |= 0x80 >> w.bits
	}
	w.bits++
}

func (w *bitWriter) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		w.bit(uint(v>>i) & 1)
	}
}

// ue writes an unsigned Exp-Golomb code.
func (w *bitWriter) ue(v uint64) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, v)
}

// align writes zero bits up to the next byte.
func (w *bitWriter) align() {
	for w.bits != 0 && w.bits != 8 {
		w.bit(0)
	}
}

// bytes writes whole bytes; the writer must be aligned.
func (w *bitWriter) bytes(b []byte) {
	w.buf = append(w.buf, b...)
	if len(b) > 0 {
		w.bits = 8
	}
}

// se writes a signed Exp-Golomb code.
func (w *bitWriter) se(v int64) {
	if v > 0 {
		w.ue(uint64(2*v - 1))
	} else {
		w.ue(uint64(-2 * v))
	}
}

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() []byte {
	w.bit(1)
	for w.bits != 8 {
		w.bit(0)
	}
	return w.buf
}

// nalu wraps an RBSP in a NAL unit header and adds emulation prevention bytes.
func nalu(refIdc, typ byte, rbsp []byte) []byte {
	out := make([]byte, 0, len(rbsp)+len(rbsp)/64+1)
	out = append(out, refIdc<<5|typ)
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// NAL unit types used here.
const (
	naluNonIDR = 1
	naluIDR    = 5
	naluSPS    = 7
	naluPPS    = 8
	naluFiller = 12
)

// levelFor picks the lowest H.264 level whose frame size and macroblock rate hold p.
func levelFor(p videoParams) uint64 {
	fs := p.mbWidth() * p.mbHeight()
	mbps := fs * p.FPS
	levels := []struct {
		idc           uint64
		maxFS, maxMBs int
	}{
		{30, 1620, 40500}, {31, 3600, 108000}, {32, 5120, 216000}, {40, 8192, 245760},
		{42, 8704, 522240}, {50, 22080, 589824}, {51, 36864, 983040},
	}
	for _, l := range levels {
		if fs <= l.maxFS && mbps <= l.maxMBs {
			return l.idc
		}
	}
	return 52
}

// sps is the sequence parameter set: Constrained Baseline, POC type 2, one reference frame,
// cropping for sizes that are not multiples of 16, VUI with fixed frame rate timing.
func sps(p videoParams) []byte {
	var w bitWriter
	w.u(8, 66)   // profile_idc: Baseline
	w.u(8, 0xc0) // constraint_set0 and set1: Constrained Baseline
	w.u(8, levelFor(p))
	w.ue(0) // seq_parameter_set_id
	w.ue(0) // log2_max_frame_num_minus4: frame_num has 4 bits
	w.ue(2) // pic_order_cnt_type
	w.ue(1) // max_num_ref_frames
	w.u(1, 0)
	w.ue(uint64(p.mbWidth() - 1))
	w.ue(uint64(p.mbHeight() - 1))
	w.u(1, 1) // frame_mbs_only_flag
	w.u(1, 1) // direct_8x8_inference_flag
	cropR, cropB := (p.mbWidth()*16-p.Width)/2, (p.mbHeight()*16-p.Height)/2
	if cropR > 0 || cropB > 0 {
		w.u(1, 1)
		w.ue(0)
		w.ue(uint64(cropR))
		w.ue(0)
		w.ue(uint64(cropB))
	} else {
		w.u(1, 0)
	}
	w.u(1, 1) // vui_parameters_present_flag
	w.u(1, 0) // aspect_ratio_info_present_flag
	w.u(1, 0) // overscan_info_present_flag
	w.u(1, 0) // video_signal_type_present_flag
	w.u(1, 0) // chroma_loc_info_present_flag
	w.u(1, 1) // timing_info_present_flag
	w.u(32, 1000)
	w.u(32, uint64(2*1000*p.FPS))
	w.u(1, 1) // fixed_frame_rate_flag
	w.u(1, 0) // nal_hrd_parameters_present_flag
	w.u(1, 0) // vcl_hrd_parameters_present_flag
	w.u(1, 0) // pic_struct_present_flag
	w.u(1, 1) // bitstream_restriction_flag
	w.u(1, 1) // motion_vectors_over_pic_boundaries_flag
	w.ue(0)   // max_bytes_per_pic_denom
	w.ue(0)   // max_bits_per_mb_denom
	w.ue(16)  // log2_max_mv_length_horizontal
	w.ue(16)  // log2_max_mv_length_vertical
	w.ue(0)   // max_num_reorder_frames: output at once
	w.ue(1)   // max_dec_frame_buffering
	return nalu(3, naluSPS, w.trailing())
}

// pps is the picture parameter set: CAVLC, deblocking control present.
func pps() []byte {
	var w bitWriter
	w.ue(0)   // pic_parameter_set_id
	w.ue(0)   // seq_parameter_set_id
	w.u(1, 0) // entropy_coding_mode_flag: CAVLC
	w.u(1, 0) // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)   // num_slice_groups_minus1
	w.ue(0)   // num_ref_idx_l0_default_active_minus1
	w.ue(0)   // num_ref_idx_l1_default_active_minus1
	w.u(1, 0) // weighted_pred_flag
	w.u(2, 0) // weighted_bipred_idc
	w.se(0)   // pic_init_qp_minus26
	w.se(0)   // pic_init_qs_minus26
	w.se(0)   // chroma_qp_index_offset
	w.u(1, 1) // deblocking_filter_control_present_flag
	w.u(1, 0) // constrained_intra_pred_flag
	w.u(1, 0) // redundant_pic_cnt_present_flag
	return nalu(3, naluPPS, w.trailing())
}

// idrSlice is a grey IDR picture: every macroblock I_16x16, DC prediction, no residual.
func idrSlice(p videoParams, idrPicID uint64) []byte {
	var w bitWriter
	iSliceHeader(&w, idrPicID)
	for range p.mbWidth() * p.mbHeight() {
		w.ue(3)   // mb_type I_16x16_2_0_0: DC prediction, no coded luma AC or chroma
		w.ue(0)   // intra_chroma_pred_mode: DC
		w.se(0)   // mb_qp_delta
		w.u(1, 1) // Intra16x16DCLevel coeff_token: no coefficients (nC 0)
	}
	return nalu(3, naluIDR, w.trailing())
}

// iSliceHeader is the header of an IDR picture's only slice.
func iSliceHeader(w *bitWriter, idrPicID uint64) {
	w.ue(0)   // first_mb_in_slice
	w.ue(7)   // slice_type: I, all slices
	w.ue(0)   // pic_parameter_set_id
	w.u(4, 0) // frame_num
	w.ue(idrPicID)
	w.u(1, 0) // no_output_of_prior_pics_flag
	w.u(1, 0) // long_term_reference_flag
	w.se(0)   // slice_qp_delta
	w.ue(1)   // disable_deblocking_filter_idc
}

// pSlice is a P picture that repeats the previous one: every macroblock skipped.
func pSlice(p videoParams, frameNum uint64) []byte {
	var w bitWriter
	pSliceHeader(&w, frameNum)
	w.ue(uint64(p.mbWidth() * p.mbHeight()))
	return nalu(2, naluNonIDR, w.trailing())
}

// pSliceHeader is the header of a P picture's only slice.
func pSliceHeader(w *bitWriter, frameNum uint64) {
	w.ue(0) // first_mb_in_slice
	w.ue(5) // slice_type: P, all slices
	w.ue(0) // pic_parameter_set_id
	w.u(4, frameNum%16)
	w.u(1, 0) // num_ref_idx_active_override_flag
	w.u(1, 0) // ref_pic_list_modification_flag_l0
	w.u(1, 0) // adaptive_ref_pic_marking_mode_flag
	w.se(0)   // slice_qp_delta
	w.ue(1)   // disable_deblocking_filter_idc
}

// filler is a filler-data NAL unit of n bytes in all (n ≥ 2).
func filler(n int) []byte {
	out := make([]byte, n)
	out[0] = naluFiller
	for i := 1; i < n-1; i++ {
		out[i] = 0xff
	}
	out[n-1] = 0x80
	return out
}

// gop makes access units of one group of pictures at a time.
type gop struct {
	p        videoParams
	sps, pps []byte
	idr      [2][]byte // two IDR pictures, alternating idr_pic_id
	p16      [16][]byte
	frame    uint64
	idrCount uint64
	// Keyint is the number of frames from one IDR picture to the next.
	keyint uint64
	// padTo pads each access unit to about this many bytes; 0 adds no padding.
	padTo int
	// pic, when set, draws the frames (I_PCM) instead of flat grey; clock is the time shown.
	pic   *picture
	clock string
}

func newGOP(p videoParams, keyint, bitrate int) (*gop, error) {
	if p.Width < 16 || p.Height < 16 || p.Width%2 != 0 || p.Height%2 != 0 || p.Width > 4096 || p.Height > 2304 {
		return nil, fmt.Errorf("resolution %dx%d: want even sizes from 16x16 to 4096x2304", p.Width, p.Height)
	}
	if p.FPS < 1 || p.FPS > 120 {
		return nil, fmt.Errorf("frame rate %d: want 1 to 120", p.FPS)
	}
	if keyint < 1 {
		return nil, fmt.Errorf("keyframe interval %d: want at least 1 frame", keyint)
	}
	g := &gop{p: p, sps: sps(p), pps: pps(), keyint: uint64(keyint)}
	g.idr[0], g.idr[1] = idrSlice(p, 0), idrSlice(p, 1)
	for i := range g.p16 {
		g.p16[i] = pSlice(p, uint64(i))
	}
	if bitrate > 0 {
		g.padTo = bitrate / 8 / p.FPS
	}
	return g, nil
}

// next is the next access unit, shown at now.
func (g *gop) next(now time.Time) [][]byte {
	pos := g.frame % g.keyint
	g.frame++
	var au [][]byte
	size := 0
	switch {
	case pos == 0 && g.pic != nil:
		g.clock = clockText(now)
		au = [][]byte{g.sps, g.pps, pcmIDRSlice(g.p, g.pic.frame(now), g.idrCount%2)}
		g.idrCount++
	case pos == 0:
		au = [][]byte{g.sps, g.pps, g.idr[g.idrCount%2]}
		g.idrCount++
	case g.pic != nil && clockText(now) != g.clock:
		g.clock = clockText(now)
		au = [][]byte{pcmRowSlice(g.p, g.pic.frame(now), pos%16, clockLine)}
	default:
		au = [][]byte{g.p16[pos%16]}
	}
	for _, n := range au {
		size += len(n)
	}
	if g.padTo-size >= 2 {
		au = append(au, filler(g.padTo-size))
	}
	return au
}
