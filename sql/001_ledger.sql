-- The pool's books. Money is integer stroops (int8); difficulty is numeric(60,6):
-- a share's difficulty (a double >= 1) is quantised once at intake to millionths
-- and every sum after that is exact decimal arithmetic (see src/ledger/amounts.ts).

CREATE TABLE farmers (
  public_key       text PRIMARY KEY CHECK (public_key ~ '^G[A-Z2-7]{55}$'),
  encrypted_secret text NOT NULL,
  stake_percent    numeric NOT NULL DEFAULT 0 CHECK (stake_percent >= 0 AND stake_percent <= 100),
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE miners (
  address        text PRIMARY KEY,
  first_share_at timestamptz NOT NULL,
  last_share_at  timestamptz NOT NULL
);

CREATE TABLE workers (
  miner          text NOT NULL REFERENCES miners (address),
  name           text NOT NULL,
  first_share_at timestamptz NOT NULL,
  last_share_at  timestamptz NOT NULL,
  PRIMARY KEY (miner, name)
);

-- Accepted shares, summed per (block, farmer, miner, worker) by the share buffer.
CREATE TABLE share_totals (
  block      int8 NOT NULL,
  farmer     text NOT NULL,
  miner      text NOT NULL,
  worker     text NOT NULL,
  difficulty numeric(60, 6) NOT NULL CHECK (difficulty > 0),
  shares     int8 NOT NULL CHECK (shares > 0),
  best_zeros int4 NOT NULL CHECK (best_zeros >= 0),
  first_at   timestamptz NOT NULL,
  last_at    timestamptz NOT NULL,
  PRIMARY KEY (block, farmer, miner, worker)
);
CREATE INDEX share_totals_miner ON share_totals (miner, block);

-- The same shares per minute and (miner, worker): hashrate over a time window.
CREATE TABLE share_minutes (
  minute     timestamptz NOT NULL,
  miner      text NOT NULL,
  worker     text NOT NULL,
  difficulty numeric(60, 6) NOT NULL CHECK (difficulty > 0),
  shares     int8 NOT NULL CHECK (shares > 0),
  PRIMARY KEY (minute, miner, worker)
);
CREATE INDEX share_minutes_miner ON share_minutes (miner, minute);

-- One row per committed share flush: a flush retried after an unknown COMMIT
-- outcome finds its id here and writes nothing twice.
CREATE TABLE share_flushes (
  id         text PRIMARY KEY,
  rows       int4 NOT NULL,
  flushed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX share_flushes_flushed_at ON share_flushes (flushed_at);

CREATE TABLE blocks (
  index              int8 PRIMARY KEY CHECK (index >= 0),
  entropy            bytea,
  opened_at          timestamptz,
  seen_ledger        int8,
  min_gap            int8,
  max_gap            int8,
  min_stake          numeric(39, 0),
  max_stake          numeric(39, 0),
  min_zeros          int8,
  max_zeros          int8,
  -- set once, in the transaction that writes the block's credits
  reward_pot_stroops int8 CHECK (reward_pot_stroops >= 0),
  fee_stroops        int8 CHECK (fee_stroops >= 0),
  miners_credited    int4,
  rewarded_at        timestamptz,
  recorded_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chain_ops (
  farmer         text NOT NULL,
  block          int8 NOT NULL CHECK (block >= 0),
  op             text NOT NULL CHECK (op IN ('plant', 'work', 'harvest')),
  status         text NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'lost')),
  tx_hash        text,
  fee_stroops    int8 NOT NULL DEFAULT 0 CHECK (fee_stroops >= 0),
  amount_stroops int8 NOT NULL DEFAULT 0 CHECK (amount_stroops >= 0),
  zeros          int4,
  gap            int4,
  reason         text,
  updated_at     timestamptz NOT NULL,
  PRIMARY KEY (farmer, block, op)
);
CREATE INDEX chain_ops_block ON chain_ops (block);
CREATE INDEX chain_ops_open ON chain_ops (block) WHERE status = 'pending' OR (op = 'work' AND status = 'done');

-- Append-only balance ledger: a miner's balance is the sum of its entries.
-- `cause` is the idempotency key: reward:<block>:<miner>, payout:<id>:<miner>,
-- reversal:<id>:<miner>. Entries are never updated or deleted (trigger below).
CREATE TABLE balance_entries (
  id             bigserial PRIMARY KEY,
  miner          text NOT NULL,
  amount_stroops int8 NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('reward', 'payout', 'reversal')),
  cause          text NOT NULL UNIQUE,
  block          int8,
  payout_id      int8,
  created_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'payout' AND amount_stroops < 0) OR (kind <> 'payout' AND amount_stroops > 0))
);
CREATE INDEX balance_entries_miner ON balance_entries (miner);

CREATE FUNCTION balance_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'balance_entries is append-only';
END
$$;
CREATE TRIGGER balance_entries_append_only BEFORE UPDATE OR DELETE ON balance_entries
  FOR EACH ROW EXECUTE FUNCTION balance_entries_append_only();

-- One payout = one signed payment transaction (<= 100 payments) from one farmer
-- account. The row, with the exact hash and envelope, is committed before the
-- transaction is sent.
CREATE TABLE payouts (
  id             bigserial PRIMARY KEY,
  run_id         text NOT NULL,
  source         text NOT NULL,
  tx_hash        text NOT NULL UNIQUE CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
  envelope_xdr   text NOT NULL,
  max_time       int8 NOT NULL,
  total_stroops  int8 NOT NULL CHECK (total_stroops > 0),
  status         text NOT NULL CHECK (status IN ('pending', 'completed', 'expired', 'failed')),
  reason         text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payouts_pending ON payouts (id) WHERE status = 'pending';

CREATE TABLE payout_entries (
  payout_id      int8 NOT NULL REFERENCES payouts (id),
  miner          text NOT NULL,
  amount_stroops int8 NOT NULL CHECK (amount_stroops > 0),
  PRIMARY KEY (payout_id, miner)
);
CREATE INDEX payout_entries_miner ON payout_entries (miner);

-- Miners a payout run could not pay, and why (e.g. no KALE trustline).
CREATE TABLE payout_skips (
  id     bigserial PRIMARY KEY,
  miner  text NOT NULL,
  reason text NOT NULL,
  at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payout_skips_miner ON payout_skips (miner, at);
