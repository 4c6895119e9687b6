// Package wheel keeps one deadline per heartbeat check and tells the engine when
// each one passes. Every ping pushes its check's deadline out, so re-arming a timer
// is the hot path, and the wheel must hold millions of them.
//
// It is a hierarchical timing wheel (Varghese & Lauck, as in Kafka's purgatory):
// time is counted in ticks of Options.Tick from Options.Start, and each of several
// levels has SlotsPerLevel slots, a level-L slot spanning SlotsPerLevel^L ticks.
// The number of levels is the fewest that place any delay up to MaxSpan exactly; a
// later deadline is parked in the top level's farthest slot and re-placed when that
// slot comes due. Slots are intrusive doubly linked lists through the Timer
// embedded in the caller's struct, so arming, re-arming and cancelling are O(1) and
// allocate nothing. Re-arming to a later deadline, the common case, only records
// the new time: the timer's slot comes due before the new deadline and re-places it
// then. When Advance crosses a slot's start its timers are cascaded to lower levels
// or fired; a long gap visits at most SlotsPerLevel slots per level, not every tick.
//
// Never early: Advance(now) fires exactly the timers with due <= now, comparing
// each one's exact deadline (the current tick's slot is scanned on every Advance),
// so a deadline fires late only by the driver's own delay between Advances.
//
// The wheel never reads the clock: the engine calls Advance with the real time on
// every tick, and tests with a fake. Timers are spread over Shards independent
// wheels, each under its own lock, so concurrent Schedule and Cancel calls contend
// only within a shard; a timer is bound to one shard at its first Schedule.
//
// Concurrency contract: Schedule, Cancel and Len may be called from any goroutine.
// Advance is for one driver goroutine. It collects the expired timers under each
// shard's lock, then hands them to fire with no lock held, disarmed, so fire may
// Schedule or Cancel any timer, including the one it was called for. A timer
// cancelled or re-armed before its turn in that loop is not fired (Cancel reports
// true), so after Schedule or Cancel returns the old deadline fires only if its fire
// had already begun. Timer.Due is for the timer's owner only.
package wheel
