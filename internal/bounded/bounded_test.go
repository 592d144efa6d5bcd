package bounded

import "testing"

func TestMakeRoom(t *testing.T) {
	m := map[int]int{}
	for i := range 10 {
		MakeRoom(m, 4)
		m[i] = i
		if len(m) > 4 {
			t.Fatalf("after %d inserts the map holds %d entries, want at most 4", i+1, len(m))
		}
	}
	if _, ok := m[9]; !ok {
		t.Error("the newest entry was dropped")
	}
}
