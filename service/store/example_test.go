package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ratls/ratls/service/store"
)

// Open picks the database from the data source name and brings its schema
// up to date; every replica of the service shares one. Documents
// (policies, reference values) are versioned: a put never overwrites.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "ratls-store")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "ratls.db")) // or postgres://...
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, body := range []string{`{"tdx":{"mrtd":["aa"]}}`, `{"tdx":{"mrtd":["aa","bb"]}}`} {
		if _, err := st.PutDocument(ctx, store.KindPolicy, "payments", []byte(body), "operator", now); err != nil {
			log.Fatal(err)
		}
	}
	latest, err := st.Document(ctx, store.KindPolicy, "payments", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(latest.Name, latest.Version, string(latest.Body))
	_, err = st.Document(ctx, store.KindPolicy, "other", 0)
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// payments 2 {"tdx":{"mrtd":["aa","bb"]}}
	// true
}
