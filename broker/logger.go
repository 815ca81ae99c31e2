package broker

import (
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"
)

// serverLogger adapts *zap.Logger to nats-server's Logger interface.
//
// nats-server's own logger calls os.Exit on Fatalf; this one never does. A
// fatal message is logged at error level and handed to onFatal, so the node
// that owns the server can shut it down and return the error to its caller.
//
// While the node forms or stops (phase says which), the errors and
// warnings nats-server logs as a matter of course while peers are not all
// there (see formationMessages) are logged at info level, and so is every
// warning of a stopping node (its last snapshots, the work its closed
// store refuses) and its errors of writing to a peer gone (stopMessages),
// so that a normal start and stop show none.
type serverLogger struct {
	log     *zap.Logger
	mu      sync.Mutex
	onFatal func(error)
	phase   func() (forming, stopping bool)
}

func newServerLogger(log *zap.Logger, onFatal func(error), phase func() (forming, stopping bool)) *serverLogger {
	return &serverLogger{log: log.WithOptions(zap.AddCallerSkip(1)), onFatal: onFatal, phase: phase}
}

// atLevel logs m at level, or at info level when it is normal for the
// node's phase (warning says whether level is warn).
func (l *serverLogger) atLevel(level func(string, ...zap.Field), warning bool, m string) {
	if l.phase != nil {
		forming, stopping := l.phase()
		switch {
		case stopping && (warning || stopMessage(m)):
			l.log.Info(m, zap.Bool("stopping", true))
			return
		case forming && formationMessage(m):
			l.log.Info(m, zap.Bool("forming", true))
			return
		}
	}
	level(m)
}

func msg(format string, v []any) string {
	return strings.TrimSpace(fmt.Sprintf(format, v...))
}

// Noticef logs at info level.
func (l *serverLogger) Noticef(format string, v ...any) { l.log.Info(msg(format, v)) }

// Warnf logs at warn level (at info what is normal for the node's phase).
func (l *serverLogger) Warnf(format string, v ...any) { l.atLevel(l.log.Warn, true, msg(format, v)) }

// Errorf logs at error level (at info what is normal for the node's phase).
func (l *serverLogger) Errorf(format string, v ...any) { l.atLevel(l.log.Error, false, msg(format, v)) }

// Debugf logs at debug level.
func (l *serverLogger) Debugf(format string, v ...any) { l.log.Debug(msg(format, v)) }

// Tracef logs at debug level; the server only calls it when tracing is on.
func (l *serverLogger) Tracef(format string, v ...any) { l.log.Debug(msg(format, v)) }

// Fatalf logs at error level and reports the error; it never exits.
func (l *serverLogger) Fatalf(format string, v ...any) {
	m := msg(format, v)
	l.log.Error(m, zap.Bool("fatal", true))
	l.mu.Lock()
	f := l.onFatal
	l.mu.Unlock()
	if f != nil {
		f(fmt.Errorf("%w: %s", ErrServerFatal, m))
	}
}
