package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes Go profiles when asked through the environment
// (CUSTOMS_CPUPROFILE, CUSTOMS_MEMPROFILE: file paths), for the
// benchmarks under bench/. The returned func stops them and must run
// before exit.
func startProfiles() (stop func()) {
	stop = func() {}
	if path := os.Getenv("CUSTOMS_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "customs: CUSTOMS_CPUPROFILE:", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "customs: CUSTOMS_CPUPROFILE:", err)
			f.Close()
		} else {
			stop = func() { pprof.StopCPUProfile(); f.Close() }
		}
	}
	if path := os.Getenv("CUSTOMS_MEMPROFILE"); path != "" {
		runtime.MemProfileRate = 64 << 10
		prev := stop
		stop = func() {
			prev()
			f, err := os.Create(path)
			if err != nil {
				fmt.Fprintln(os.Stderr, "customs: CUSTOMS_MEMPROFILE:", err)
				return
			}
			defer f.Close()
			// allocs: every allocation since start, so what made the peak shows.
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintln(os.Stderr, "customs: CUSTOMS_MEMPROFILE:", err)
			}
		}
	}
	return stop
}
