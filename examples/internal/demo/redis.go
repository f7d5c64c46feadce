package demo

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/redis"
)

// redisDialTimeout bounds the check, at start-up, that Redis answers.
const redisDialTimeout = 3 * time.Second

func init() { openRedis = openRedisStore }

// openRedisStore opens a store in the Redis server at addr and checks that it
// answers, so that a wrong address fails at start-up rather than with 503s.
func openRedisStore(addr string) (core.Store, error) {
	// No retries: a deduction retried after a broken connection could be
	// charged twice. A failed call answers 503 and the client retries.
	client := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), redisDialTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis at %s does not answer: %w", addr, err)
	}
	s, err := redis.New(client, nil)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &redisStore{Store: s, client: client}, nil
}

// redisStore closes the Redis client with the store.
type redisStore struct {
	*redis.Store
	client *goredis.Client
}

func (s *redisStore) Close() error {
	err := s.Store.Close()
	if cerr := s.client.Close(); err == nil {
		err = cerr
	}
	return err
}
