// Command baseline is the yardstick of the ingest benchmark: a minimal Go
// HTTP server that reads each request body and answers as actlog would for
// a batch of N events, doing nothing else (no decoding, no storage).
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address")
	batch := flag.Int("batch", 10, "events per request to report as accepted")
	flag.Parse()
	answer := []byte(`{"accepted":` + strconv.Itoa(*batch) + `,"rejected":[]}` + "\n")
	srv := &http.Server{
		Addr:              *listen,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(answer)
		}),
	}
	log.Fatal(srv.ListenAndServe())
}
