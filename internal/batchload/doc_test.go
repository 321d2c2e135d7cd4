package batchload_test

import (
	"fmt"
	"strings"

	"github.com/shoptoken/shoptoken/internal/batchload"
)

func ExampleLoad() {
	stored := map[string]string{"a": "1", "c": "3"}
	got, err := batchload.Load([]string{"a", "b", "c"}, 2, 4, func() batchload.Func[string] {
		return func(batch []string, put func(string, string)) ([]error, error) {
			for _, k := range batch { // one round trip per batch in a real store
				if v, ok := stored[k]; ok {
					put(k, strings.Repeat(v, 2))
				}
			}
			return nil, nil
		}
	})
	fmt.Println(got, err)
	// Output: map[a:11 c:33] <nil>
}
