package policy

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// tokenBucketLua takes tokens from token buckets in Redis, atomically per
// bucket: the shared rate limits' store (RedisStore). The file says how.
//
//go:embed tokenbucket.lua
var tokenBucketLua string

// tokenBucketScript runs tokenBucketLua by EVALSHA, and by EVAL when Redis
// does not have it (NOSCRIPT: a restarted or flushed server), which loads
// it for the next calls.
var tokenBucketScript = redis.NewScript(tokenBucketLua)
