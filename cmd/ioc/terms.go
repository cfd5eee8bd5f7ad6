package main

import (
	"context"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/streams"
)

// leaderTerms is the alert engine's lease with what follows its terms. At each term's start
// the public warning feed reloads what the previous leader published (its next message of an
// alert updates the last one, not starts anew). In a process that also runs the streams role,
// only the leader watches the cameras: each camera has one watcher, its statuses and events
// reach the engine that judges them, and at a takeover the new leader starts the sessions.
type leaderTerms struct {
	alerts.Leader
	// ready is closed once the wiring has set reloadFeed and sup; terms wait for it.
	ready      chan struct{}
	reloadFeed func(context.Context) error // nil: no feed
	sup        *streams.Supervisor         // nil: no camera to watch
}

func newLeaderTerms(l alerts.Leader) *leaderTerms {
	return &leaderTerms{Leader: l, ready: make(chan struct{})}
}

// watch sets the camera supervisor the terms run (nil: none) and lets the terms begin; call it
// once, at the end of the wiring.
func (l *leaderTerms) watch(sup *streams.Supervisor) {
	l.sup = sup
	close(l.ready)
}

// Run implements alerts.Leader.
func (l *leaderTerms) Run(ctx context.Context, lead func(ctx context.Context, term uint64) error) error {
	return l.Leader.Run(ctx, func(tctx context.Context, term uint64) error {
		select {
		case <-l.ready:
		case <-tctx.Done():
			return nil
		}
		if l.reloadFeed != nil {
			if err := l.reloadFeed(tctx); err != nil {
				return err // the term ends; the lease is campaigned for again
			}
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
