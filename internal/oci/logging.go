package oci

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// distribution logs through logrus's global standard logger (its own
// configuration does not reach it when embedded). Kiln routes that logger
// into slog at debug level: output is discarded, a hook forwards entries.
// The logger is process-global, so the most recently opened registry's
// slog.Logger receives the messages.
var (
	logrusOnce sync.Once
	logTarget  atomic.Pointer[slog.Logger]
)

func routeLogrus(log *slog.Logger) {
	logTarget.Store(log)
	logrusOnce.Do(func() {
		std := logrus.StandardLogger()
		std.SetOutput(io.Discard)
		std.SetFormatter(discardFormatter{})
		std.AddHook(slogHook{})
	})
	level := logrus.PanicLevel // nothing below panic is produced: cheap
	if log.Enabled(context.Background(), slog.LevelDebug) {
		level = logrus.DebugLevel
	}
	logrus.SetLevel(level)
}

// discardFormatter skips formatting entries that are written to io.Discard.
type discardFormatter struct{}

func (discardFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// slogHook forwards logrus entries to the registry's slog logger.
type slogHook struct{}

func (slogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (slogHook) Fire(e *logrus.Entry) error {
	log := logTarget.Load()
	if log == nil {
		return nil
	}
	attrs := make([]any, 0, 2*len(e.Data)+4)
	attrs = append(attrs, "component", "registry", "level", e.Level.String())
	for k, v := range e.Data {
		attrs = append(attrs, k, fmt.Sprint(v))
	}
	log.Debug(e.Message, attrs...)
	return nil
}
