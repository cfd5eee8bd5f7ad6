package main

import (
	"context"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/streams"
)

// leadCameras is the alert engine's lease with the cameras riding on it: in a process that runs
// the streams and alerts roles with a lease (every such process of a deployment), only the
// leader watches the cameras, so each camera has one watcher and its statuses and events reach
// the engine that judges them; at a takeover the new leader starts the sessions.
type leadCameras struct {
	alerts.Leader
	// ready is closed once sup is set (nil: no camera to watch); terms wait for it.
	ready chan struct{}
	sup   *streams.Supervisor
}

func newLeadCameras(l alerts.Leader) *leadCameras {
	return &leadCameras{Leader: l, ready: make(chan struct{})}
}

// watch sets the supervisor the terms run (nil: none); call it once, after the wiring.
func (l *leadCameras) watch(sup *streams.Supervisor) {
	l.sup = sup
	close(l.ready)
}

// Run implements alerts.Leader: each term watches the cameras while it lasts.
func (l *leadCameras) Run(ctx context.Context, lead func(ctx context.Context, term uint64) error) error {
	return l.Leader.Run(ctx, func(tctx context.Context, term uint64) error {
		select {
		case <-l.ready:
		case <-tctx.Done():
			return nil
		}
		if l.sup == nil {
			return lead(tctx, term)
		}
		watched := make(chan struct{})
		go func() { defer close(watched); _ = l.sup.Run(tctx) }() // ends with the term
		err := lead(tctx, term)
		<-watched
		return err
	})
}
