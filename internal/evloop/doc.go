// Package evloop runs tasks on event loops, as HAProxy and nginx run their
// connections: each loop is one OS thread with its own epoll instance, and
// a task (the whole life of one connection, written as ordinary blocking
// code) runs on its loop's thread from start to end. When a task's socket
// would block, the task arms its registration and parks on the loop
// (Registration.Arm, Loop.Park), and the loop runs the next task that is
// ready; when epoll reports the socket ready, the loop switches straight
// back to it.
//
// It exists for the lb's public listener. A goroutine that Go's network
// poller wakes waits in a run queue for a thread, and on a machine whose
// CPUs are shared with other busy processes that thread is often off its
// CPU: the lb's tail latency came from that wait (docs/performance.md). A
// loop's thread, like HAProxy's, sleeps in its own epoll_wait and runs what
// woke it at once.
//
// A task is a coroutine (iter.Pull) on the loop's locked thread, so the
// switch to and from it is a few hundred nanoseconds and involves neither
// the scheduler nor another thread. The price: while a task runs or blocks
// on anything but Park (a mutex, a channel, a sleep), its loop serves no
// one else. Callers keep such waits off their tasks: they hand long or
// unusual work to a goroutine of its own.
//
// The package never reads or writes a socket itself. Package rawio parks
// on a loop when a read or write would block on a loop's thread, and waits
// on Go's poller everywhere else, so the same connection works from both.
// Only Linux has loops; elsewhere Start fails and callers use goroutines.
package evloop
