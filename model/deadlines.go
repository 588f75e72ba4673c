package model

// deadlineQueue is a member's LeaseRenew deadlines in the order they were
// armed: a ring, so that arming one and dropping the due ones moves no
// entry. (A slice re-sliced from the front and appended to at the back
// copied the whole queue, tens of thousands of entries on a follower of
// incident-2018, each time it reached its capacity: ~3 % of a cluster run.)
type deadlineQueue struct {
	buf  []deadline // len(buf) is 0 or a power of two
	head int        // index in buf of the first entry
	n    int        // entries queued
}

func (q *deadlineQueue) len() int { return q.n }

// at is the i-th entry from the front.
func (q *deadlineQueue) at(i int) deadline { return q.buf[(q.head+i)&(len(q.buf)-1)] }

func (q *deadlineQueue) push(d deadline) {
	if q.n == len(q.buf) {
		buf := make([]deadline, max(16, 2*len(q.buf)))
		for i := range q.n {
			buf[i] = q.at(i)
		}
		q.buf, q.head = buf, 0
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = d
	q.n++
}

// drop removes the first k entries.
func (q *deadlineQueue) drop(k int) {
	q.head = (q.head + k) & (len(q.buf) - 1)
	q.n -= k
}
