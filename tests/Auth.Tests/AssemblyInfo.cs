// One host at a time: the machine has two cores shared with other work, and the login timing test
// must not compete with Argon2id hashing in another class.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
