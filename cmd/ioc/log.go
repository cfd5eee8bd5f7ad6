package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/haidang-ioc/ioc/internal/config"
)

// newLogger logs text on a terminal and JSON elsewhere (or as configured), and makes it the
// default logger.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	log := slog.New(h)
	slog.SetDefault(log)
	return log
}
