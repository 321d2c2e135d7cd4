package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/batchload"
	"github.com/shoptoken/shoptoken/internal/reseal"
	"github.com/shoptoken/shoptoken/internal/tokenjson"
	"github.com/shoptoken/shoptoken/seal"
)

// Store is a shoptoken.Store, shoptoken.Locker, shoptoken.LeaseLoader, shoptoken.Watcher,
// shoptoken.DueIndex, shoptoken.FailureIndex and shoptoken.BulkLoader on Redis. It is safe for concurrent use. Create it with New; the zero value is not usable.
type Store struct {
	rdb redis.UniversalClient
	cfg config
	hub *hub

	closeOnce sync.Once
}

var (
	_ shoptoken.Store       = (*Store)(nil)
	_ shoptoken.Locker      = (*Store)(nil)
	_ shoptoken.LeaseLoader = (*Store)(nil)
	_ shoptoken.Watcher     = (*Store)(nil)
	_ shoptoken.DueIndex    = (*Store)(nil)
	_ shoptoken.BulkLoader  = (*Store)(nil)
)

// Option configures a Store.
type Option func(*config)

type config struct {
	prefix string
	kr     *seal.Keyring // nil: tokens are stored in clear
	poll   time.Duration
	// health is how long the pub/sub connection may stay silent before it is pinged; a ping
	// unanswered for as long again counts as a broken connection.
	health time.Duration
	// noPubSub makes Watch and Lock rely on polling alone (tests, proxies without pub/sub).
	noPubSub bool
	// noRenew stops leases from being renewed (tests: a holder that has stalled).
	noRenew bool
}

// WithPrefix sets the namespace every Redis key and channel starts with. The default is
// "shoptoken:". Give each application (or environment) sharing one Redis its own prefix.
func WithPrefix(namespace string) Option {
	return func(c *config) { c.prefix = namespace }
}

// WithSeal seals every token the Store writes with kr's current key, and opens tokens sealed with
// any key kr lists: the tok field of the token hash then holds "seal:v1:<key id>:..." instead of
// the token's JSON, bound to the store key (package seal says how, and how to rotate keys across a
// fleet). Load, LoadMany and TryLockLoad open sealed tokens and still read tokens stored in clear
// (written before sealing was turned on); those are sealed by the next Save of their key. A token
// sealed with a key kr does not list, or altered, or moved under another key, is damage
// (shoptoken.ErrCorrupt, also wrapping seal.ErrUnknownKey or seal.ErrDamaged), and so is every
// sealed token for a Store without a keyring: a Cache replaces it. A nil kr stores in clear.
func WithSeal(kr *seal.Keyring) Option {
	return func(c *config) { c.kr = kr }
}

// WithPollInterval sets how often Watch and Lock poll Redis while pub/sub is not delivering
// (not yet subscribed, disconnected, or refused by a proxy). Zero or negative keeps the default,
// one second.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.poll = d
		}
	}
}

// New returns a Store on rdb: a *redis.Client, a Sentinel-backed failover client or a
// *redis.ClusterClient. The Store does not own rdb: Close leaves it open, and rdb must stay open
// while the Store is used.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	cfg := config{prefix: "shoptoken:", poll: time.Second, health: 15 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Store{rdb: rdb, cfg: cfg}
	s.hub = newHub(s)
	return s
}

// Close stops the Store's pub/sub connection and its polling. Watch channels handed out before stop
// receiving; later Watch calls fail. Leases that are held keep being renewed until they are
// unlocked, and Lock keeps working by polling. Close does not close the Redis client.
func (s *Store) Close() error {
	s.closeOnce.Do(s.hub.close)
	return nil
}

// The Redis layout of one key. The braces make the key a Redis Cluster hash tag, so its token,
// lease and channel share one slot; no script touches more than one key anyway.
func (s *Store) tokKey(key string) string   { return s.cfg.prefix + "{" + key + "}:tok" }
func (s *Store) leaseKey(key string) string { return s.cfg.prefix + "{" + key + "}:lease" }
func (s *Store) channel(key string) string  { return s.cfg.prefix + "{" + key + "}:chg" }

// keyOf returns the key whose channel is channel.
func (s *Store) keyOf(channel string) (string, bool) {
	k, ok := strings.CutPrefix(channel, s.cfg.prefix+"{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(k, "}:chg")
}

// stateLua is the part the scripts share: how a key's token hash reads. A stored version is a
// decimal integer in 1..MaxVersion without sign or leading zeros, as the scripts write it;
// anything else (a float, "1e3", "v3", a number above MaxVersion) is damage, as is a hash with a
// token and no version, or a key of another Redis type. decode reads the hash the same way.
//
// state(key) returns the version Load reports (the prev Save accepts), the version the next one
// follows, whether a token is stored, and whether the key is damaged.
const stateLua = `
local MAX = 9007199254740991
local function version(s)
	if not s then
		return 0
	end
	if #s > 16 or not string.find(s, '^[1-9][0-9]*$') then
		return nil
	end
	local v = tonumber(s)
	if v > MAX then
		return nil
	end
	return v
end
local function state(key)
	local kind = redis.call('TYPE', key)['ok']
	if kind == 'none' then
		return 0, 0, false, false
	end
	if kind ~= 'hash' then
		return 0, 0, false, true
	end
	local cur = redis.call('HMGET', key, 'v', 'tok')
	local v = version(cur[1])
	if v == nil or (v == 0 and cur[2]) then
		return 0, 0, false, true
	end
	if not cur[2] then
		return 0, v, false, false
	end
	return v, v, true, false
end
local function nextVersion(v)
	if v >= MAX then
		return 1
	end
	return v + 1
end
`

// saveScript is the compare-and-swap. KEYS[1] is the token hash {v, tok}; ARGV is prev, the encoded
// token and the change channel. prev must be what Load reports: the token's version, 0 for an
// absent or deleted key, 0 for a damaged one (replaced whole, its versions starting again at 1).
var saveScript = redis.NewScript(stateLua + `
local prev, from, live, damaged = state(KEYS[1])
if tonumber(ARGV[1]) ~= prev then
	return {0, prev}
end
if damaged then
	redis.call('DEL', KEYS[1])
end
local v = nextVersion(from)
redis.call('HSET', KEYS[1], 'v', v, 'tok', ARGV[2])
redis.call('PUBLISH', ARGV[3], v)
return {1, v}
`)

// deleteScript turns a stored token, or damage, into a tombstone with the next version, so that no
// writer holding an older version can write again; absent keys and tombstones stay as they are.
var deleteScript = redis.NewScript(stateLua + `
local prev, v, live, damaged = state(KEYS[1])
if live or damaged then
	if damaged then
		redis.call('DEL', KEYS[1])
	end
	v = nextVersion(v)
	redis.call('HSET', KEYS[1], 'v', v)
	redis.call('HDEL', KEYS[1], 'tok')
end
redis.call('PUBLISH', ARGV[1], v)
return v
`)

// Load implements shoptoken.Store. When there is no token (the key was never saved, or was
// deleted) it returns shoptoken.ErrNotFound and version 0. A value that cannot be read as a token
// makes it return an error wrapping shoptoken.ErrCorrupt, which never quotes the value, and the
// version to pass to Save to replace it: the stored version if it is readable, else 0.
//
// If Redis cannot be reached, the error wraps the client's error (a *net.OpError, a redis.Error or
// the context's error) and is neither ErrNotFound nor ErrConflict; shoptoken.KindOf reports network
// failures as shoptoken.ErrUnavailable.
func (s *Store) Load(ctx context.Context, key string) (*shoptoken.Token, int64, error) {
	vals, err := s.rdb.HMGet(ctx, s.tokKey(key), "v", "tok").Result()
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		return nil, 0, corrupt(key, "the key holds another Redis type")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: load %q: %w", key, err)
	}
	return s.decode(key, vals)
}

func corrupt(key, reason string) error {
	return fmt.Errorf("redisstore: load %q: %w: %s", key, shoptoken.ErrCorrupt, reason)
}

// decode turns an HMGET v tok answer into a token and its version, reading the hash as the
// scripts' state does, and opening a sealed token with the Store's keyring.
func (s *Store) decode(key string, vals []any) (*shoptoken.Token, int64, error) {
	tok, v, _, err := s.decodeSealed(key, vals)
	return tok, v, err
}

// decodeSealed is decode that also returns the id of the key that sealed the token; "" when it
// was stored in clear.
func (s *Store) decodeSealed(key string, vals []any) (_ *shoptoken.Token, _ int64, sealedBy string, _ error) {
	vs, hasV := vals[0].(string)
	data, hasTok := vals[1].(string)
	var v int64
	switch {
	case hasV:
		n, ok := parseVersion(vs)
		if !ok {
			return nil, 0, "", corrupt(key, "the version is not a number in 1..MaxVersion")
		}
		v = n
	case hasTok:
		return nil, 0, "", corrupt(key, "a token without a version")
	}
	if !hasTok {
		return nil, 0, "", shoptoken.ErrNotFound // absent, or a tombstone
	}
	if seal.IsSealed(data) { // plaintext JSON never starts so: it keeps the fast path below
		if s.cfg.kr == nil {
			return nil, v, "", corrupt(key, "the token is sealed, but the Store has no keyring (redisstore.WithSeal)")
		}
		plain, by, err := s.cfg.kr.Open(key, data)
		if err != nil {
			// Both matchable: shoptoken.ErrCorrupt for the Cache, seal's kind for an operator.
			return nil, v, "", fmt.Errorf("redisstore: load %q: %w: %w", key, shoptoken.ErrCorrupt, err)
		}
		data, sealedBy = string(plain), by
	}
	tok, err := tokenjson.Unmarshal(data)
	if err != nil {
		return nil, v, "", corrupt(key, err.Error()) // tokenjson's errors never quote the data
	}
	return tok, v, sealedBy, nil
}

// parseVersion reads a stored version as the scripts do: decimal digits without sign or leading
// zero, in 1..MaxVersion.
func parseVersion(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 16 || s[0] == '0' {
		return 0, false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > shoptoken.MaxVersion {
		return 0, false
	}
	return n, true
}

// Save implements shoptoken.Store: it writes tok if the stored version is still prev and publishes
// the new version on the key's channel, in one Lua script. prev is what Load reported: the token's
// version, 0 for a key never saved or deleted, and for damage the version Load returned with
// shoptoken.ErrCorrupt.
//
// It returns shoptoken.ErrConflict when someone else wrote first. If Redis cannot be reached, the
// error wraps the client's error and is not ErrConflict: the write may or may not have happened,
// so Load again before retrying.
func (s *Store) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: save %q: %w", key, err)
	}
	if tok == nil {
		return 0, fmt.Errorf("redisstore: save %q: nil token", key)
	}
	if prev < 0 || prev > shoptoken.MaxVersion {
		return 0, shoptoken.ErrConflict // no stored version matches; and Lua's numbers stay exact
	}
	data, err := s.encode(key, tok)
	if err != nil {
		return 0, fmt.Errorf("redisstore: save %q: encode: %w", key, err)
	}
	res, err := saveScript.Run(ctx, s.rdb, []string{s.tokKey(key)}, prev, data, s.channel(key)).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("redisstore: save %q: %w", key, err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redisstore: save %q: unexpected script reply %v", key, res)
	}
	if res[0] != 1 {
		return 0, shoptoken.ErrConflict
	}
	return res[1], nil
}

// encode returns what the tok field holds for tok: its JSON ([]byte), or the sealed text (string)
// when the Store seals; go-redis sends either as it is, without a copy.
func (s *Store) encode(key string, tok *shoptoken.Token) (any, error) {
	data, err := tokenjson.Marshal(tok)
	if err != nil || s.cfg.kr == nil {
		return data, err
	}
	return s.cfg.kr.Seal(key, data)
}

// Delete implements shoptoken.Store. It leaves a tombstone holding the next version, so versions
// of a key never repeat and a writer still holding a version from before the Delete gets
// ErrConflict. After a Delete, Load returns ErrNotFound with version 0, and Save with prev 0
// recreates the key. Deleting an absent key is not an error; deleting a damaged one clears it.
// Watchers are woken either way.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := deleteScript.Run(ctx, s.rdb, []string{s.tokKey(key)}, s.channel(key)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete %q: %w", key, err)
	}
	return nil
}

// Reseal rewrites each of keys whose token is not sealed with the Store's current key (sealed with
// an older key of its keyring, or stored in clear) through Save, which seals it with the current
// key: the last part of a key rotation (see package seal), for keys that nothing has written since
// the new key became current. It returns how many it rewrote. A key without a token is skipped; a
// key written meanwhile (shoptoken.ErrConflict) was sealed by its writer and is skipped too. A
// key that does not load (damage, such as a token sealed with a key the keyring lacks) is left as
// it is and reported in the error, which joins every failure. Each key costs up to two round
// trips; ctx bounds the whole run.
func (s *Store) Reseal(ctx context.Context, keys []string) (int, error) {
	if s.cfg.kr == nil {
		return 0, errors.New("redisstore: reseal: the Store has no keyring (WithSeal)")
	}
	return reseal.Run(ctx, "redisstore", s.cfg.kr.Current(), keys, func(k string) (reseal.Stored, error) {
		vals, err := s.rdb.HMGet(ctx, s.tokKey(k), "v", "tok").Result()
		if redis.HasErrorPrefix(err, "WRONGTYPE") {
			return reseal.Stored{}, corrupt(k, "the key holds another Redis type")
		}
		if err != nil {
			return reseal.Stored{}, fmt.Errorf("redisstore: reseal %q: %w", k, err)
		}
		tok, v, by, err := s.decodeSealed(k, vals)
		return reseal.Stored{Token: tok, Version: v, SealedBy: by}, err
	}, s.Save)
}

// loadBatch is how many keys LoadMany sends in one pipeline, and loadWorkers how many pipelines
// it keeps in flight, so that decoding one batch, and adding it to the map, overlaps the round
// trips of the others.
const (
	loadBatch   = 1000
	loadWorkers = 4
)

// LoadMany implements shoptoken.BulkLoader with pipelines of 1000 HMGETs, four in flight at a
// time, for cold-starting a fleet's worth of tokens: ceil(len(keys)/1000) round trips. Keys
// without a token (never saved, or deleted) are left out of the map. A value that cannot be read
// as a token is left out too, and reported in the error, wrapping shoptoken.ErrCorrupt and naming
// the key, never the value: Load that key to get the version that replaces it. If a pipeline
// fails, LoadMany stops sending and returns what it loaded so far with an error wrapping the
// cause. The error joins every such failure. The tokens are the caller's.
func (s *Store) LoadMany(ctx context.Context, keys []string) (map[string]shoptoken.Loaded, error) {
	if err := ctx.Err(); err != nil {
		return map[string]shoptoken.Loaded{}, fmt.Errorf("redisstore: load many: %w", err)
	}
	return batchload.Load(keys, loadBatch, loadWorkers, func() batchload.Func[shoptoken.Loaded] {
		var cmds []*redis.SliceCmd
		return func(batch []string, put func(string, shoptoken.Loaded)) ([]error, error) {
			cmds = s.hmgets(ctx, cmds[:0], batch)
			pipe := s.rdb.Pipeline()
			for _, cmd := range cmds {
				_ = pipe.Process(ctx, cmd)
			}
			// A key of another type fails its own command only (WRONGTYPE), which Exec reports
			// too; any other error is the pipeline's.
			if _, err := pipe.Exec(ctx); err != nil && !redis.HasErrorPrefix(err, "WRONGTYPE") {
				return nil, fmt.Errorf("redisstore: load many: %w", err)
			}
			var damage []error
			for i, cmd := range cmds {
				l, err := s.loaded(batch[i], cmd)
				switch {
				case err == nil:
					put(batch[i], l)
				case !errors.Is(err, shoptoken.ErrNotFound):
					damage = append(damage, err)
				}
			}
			return damage, nil
		}
	})
}

// hmgets appends to cmds one "HMGET <token hash> v tok" for each key, as pipe.HMGet makes them
// but with four allocations fewer per key: the Redis keys of the batch are cut from one string,
// the arguments from one slice, and the constant arguments are not copied.
func (s *Store) hmgets(ctx context.Context, cmds []*redis.SliceCmd, keys []string) []*redis.SliceCmd {
	const fixed = len("{}:tok")
	n := 0
	for _, k := range keys {
		n += len(s.cfg.prefix) + len(k) + fixed
	}
	var b strings.Builder
	b.Grow(n)
	for _, k := range keys {
		b.WriteString(s.cfg.prefix)
		b.WriteByte('{')
		b.WriteString(k)
		b.WriteString("}:tok")
	}
	all := b.String()
	args := make([]any, 4*len(keys))
	at := 0
	for i, k := range keys {
		end := at + len(s.cfg.prefix) + len(k) + fixed
		a := args[4*i : 4*i+4 : 4*i+4]
		a[0], a[1], a[2], a[3] = "hmget", all[at:end], "v", "tok"
		cmds = append(cmds, redis.NewSliceCmd(ctx, a...))
		at = end
	}
	return cmds
}

// loaded reads one HMGET answer of LoadMany as Load does.
func (s *Store) loaded(key string, cmd *redis.SliceCmd) (shoptoken.Loaded, error) {
	err := cmd.Err()
	switch {
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		return shoptoken.Loaded{}, corrupt(key, "the key holds another Redis type")
	case err != nil:
		return shoptoken.Loaded{}, fmt.Errorf("redisstore: load %q: %w", key, err)
	}
	tok, v, err := s.decode(key, cmd.Val())
	if err != nil {
		return shoptoken.Loaded{}, err
	}
	return shoptoken.Loaded{Token: tok, Version: v}, nil
}
