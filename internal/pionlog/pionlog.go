// Package pionlog bridges pion's leveled loggers (webrtc, ice, sctp, turn)
// into log/slog. pion is chatty: its Warn (mostly about connections closing)
// becomes Info, its Info becomes Debug, and its Debug and Trace go below Debug.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory is a logging.LoggerFactory writing to Log with a "scope" attribute.
type Factory struct{ Log *slog.Logger }

// NewLogger returns the logger of one pion scope.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{log: f.Log.With("scope", scope)}
}

type logger struct{ log *slog.Logger }

const levelTrace = slog.LevelDebug - 4

func (l logger) logf(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (l logger) Trace(msg string)                  { l.logf(levelTrace-4, "%s", msg) }
func (l logger) Tracef(format string, args ...any) { l.logf(levelTrace-4, format, args...) }
func (l logger) Debug(msg string)                  { l.logf(levelTrace, "%s", msg) }
func (l logger) Debugf(format string, args ...any) { l.logf(levelTrace, format, args...) }
func (l logger) Info(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l logger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l logger) Warn(msg string)                   { l.logf(slog.LevelInfo, "%s", msg) }
func (l logger) Warnf(format string, args ...any)  { l.logf(slog.LevelInfo, format, args...) }
func (l logger) Error(msg string)                  { l.logf(slog.LevelError, "%s", msg) }
func (l logger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args...) }
