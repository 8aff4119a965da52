package queue

import (
	"container/heap"

	"k8s.io/apimachinery/pkg/types"
)

// podHeap is a container/heap of pods ordered by less, with lookup by UID.
type podHeap struct {
	items []*PodInfo
	index map[types.UID]*PodInfo
	less  func(a, b *PodInfo) bool
}

var _ heap.Interface = (*podHeap)(nil)

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }

func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIndex = i
	h.items[j].heapIndex = j
}

func (h *podHeap) Push(x any) {
	p := x.(*PodInfo)
	if h.index == nil {
		h.index = map[types.UID]*PodInfo{}
	}
	p.heapIndex = len(h.items)
	h.items = append(h.items, p)
	h.index[p.Pod.UID] = p
}

func (h *podHeap) Pop() any {
	last := len(h.items) - 1
	p := h.items[last]
	h.items[last] = nil
	h.items = h.items[:last]
	delete(h.index, p.Pod.UID)
	return p
}

func (h *podHeap) get(uid types.UID) *PodInfo { return h.index[uid] }

func (h *podHeap) remove(uid types.UID) {
	if p, ok := h.index[uid]; ok {
		heap.Remove(h, p.heapIndex)
	}
}
