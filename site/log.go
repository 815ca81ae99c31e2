package site

import (
	"fmt"

	"go.uber.org/zap"
)

// serverLog is nats-server's logger over zap.
type serverLog struct{ l *zap.Logger }

func (l serverLog) Noticef(format string, v ...any) { l.l.Info(fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l serverLog) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Fatalf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Tracef(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
