// The harnesses start real server processes and measure them: run one at a time, so a soak's latencies are not
// another test's crash rounds.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
