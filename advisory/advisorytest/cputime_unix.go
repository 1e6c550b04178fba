//go:build unix

package advisorytest

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user and system) this process has used so far.
// Benchmarks report it beside wall time because the machines they run on
// are often shared: wall time then measures the neighbours too.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
