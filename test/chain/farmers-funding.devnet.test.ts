// A network without friendbot and no FUNDING_SECRET: creating farmers is refused
// before anything is stored. It used to store an active farmer first and fail
// funding after: every later start then failed repairing it (one admin request
// could keep the pool from starting).
import { describe, it, expect } from 'vitest'
import { createFarmers } from '../../src/chain/farmers.js'
import { devnetRig, startPool } from './harness.js'

describe('creating farmers with nobody to fund them', () => {
  it('is refused with a clear error and stores nothing', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'farmers-funding' })
    try {
      const noFriendbot = startPool({ ...rig.net, friendbotUrl: undefined }, rig.store, rig.master, rig.cap.logger)
      await expect(createFarmers(noFriendbot.chain.accounts, 2, 0)).rejects.toMatchObject({ code: 'ARGUMENT_INVALID', message: expect.stringMatching(/needs FUNDING_SECRET to create farmer accounts; none was created/) })
      expect(await rig.store.listFarmers()).toEqual([])
    } finally {
      await rig.close()
    }
  }, 60_000)
})
