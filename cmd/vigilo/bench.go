package main

import "errors"

func bench(args []string) error {
	return errors.New("vigilo bench is not built yet (issue 6); `make bench` runs the Go benchmarks")
}
