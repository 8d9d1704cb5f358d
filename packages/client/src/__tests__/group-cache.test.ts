import { describe, expect, it } from 'vitest'
import { GroupCache, QUEUE_LIMIT } from '../group-cache.ts'

type Item = { id: string; n: number; tags?: string[] }

function filled(...ids: string[]): GroupCache<Item> {
  const cache = new GroupCache<Item>()
  cache.replace(
    ids,
    ids.map((id) => ({ id, n: 0 })),
  )
  return cache
}

describe('GroupCache', () => {
  it("keeps the server's order: an overwrite keeps its place, a new id goes last", () => {
    const cache = filled('a', 'b', 'c')
    cache.set('b', { id: 'b', n: 1 })
    cache.set('d', { id: 'd', n: 0 })
    expect(cache.idList()).toEqual(['a', 'b', 'c', 'd'])
    expect(cache.list().map((item) => item.n)).toEqual([0, 1, 0, 0])
    expect(cache.get('b')).toEqual({ id: 'b', n: 1 })
    expect(cache.size).toBe(4)
  })

  it('never changes a list it handed out, and hands out the same list until a change', () => {
    const cache = filled('a', 'b', 'c')
    const items = cache.list()
    const ids = cache.idList()
    expect(cache.list()).toBe(items)
    cache.set('a', { id: 'a', n: 5 })
    cache.set('x', { id: 'x', n: 0 })
    cache.delete('b')
    expect(items.map((item) => item.n)).toEqual([0, 0, 0])
    expect(ids).toEqual(['a', 'b', 'c'])
    expect(cache.list()).not.toBe(items)
    expect(cache.idList()).toEqual(['a', 'c', 'x'])
    // An update alone leaves the ids list as it was.
    const idsAfter = cache.idList()
    cache.set('c', { id: 'c', n: 9 })
    expect(cache.idList()).toBe(idsAfter)
  })

  it('finds every item at its place after deletes, before and after compaction', () => {
    const ids = Array.from({ length: 20 }, (_, index) => `i${index}`)
    const cache = filled(...ids)
    let alive = [...ids]
    const check = () => {
      expect(cache.idList()).toEqual(alive)
      expect(cache.list().map((item) => item.id)).toEqual(alive)
      for (const id of alive) expect(cache.get(id)?.id).toBe(id)
      expect(cache.size).toBe(alive.length)
    }
    const remove = (...gone: string[]) => {
      for (const id of gone) expect(cache.delete(id)).toBe(true)
      alive = alive.filter((id) => !gone.includes(id))
    }
    // A few deletes leave holes (a quarter of the places compacts them).
    remove('i0', 'i5', 'i19', 'i7')
    expect(cache.delete('i5')).toBe(false)
    expect(cache.has('i0')).toBe(false)
    check()
    // A re-created id goes last.
    cache.set('i5', { id: 'i5', n: 1 })
    alive.push('i5')
    check()
    const handedOut = cache.list()
    // Enough deletes to compact; the positions after them are renumbered.
    remove('i1', 'i2', 'i3', 'i4', 'i6')
    check()
    expect(handedOut.map((item) => item.id)).toContain('i1')
    cache.set('i8', { id: 'i8', n: 42 })
    expect(cache.list()[alive.indexOf('i8')]).toEqual({ id: 'i8', n: 42 })
    cache.set('new', { id: 'new', n: 0 })
    alive.push('new')
    check()
  })

  it('takes an unchanged value as no change, keeping the cached object and the lists', () => {
    const cache = filled('a')
    const before = cache.get('a')
    const list = cache.list()
    cache.set('a', { id: 'a', n: 0 })
    expect(cache.get('a')).toBe(before)
    expect(cache.list()).toBe(list)
  })

  it('applies the values of a burst in arrival order, whatever reads or deletes fall between', () => {
    const cache = filled('a', 'b')
    const b = cache.get('b')
    // One id several times, ids new to the cache (one of them twice), a value equal to the cache.
    cache.set('a', { id: 'a', n: 1 })
    cache.set('x', { id: 'x', n: 1 })
    cache.set('a', { id: 'a', n: 2 })
    cache.set('b', { id: 'b', n: 0 })
    cache.set('x', { id: 'x', n: 2 })
    expect(cache.idList()).toEqual(['a', 'b', 'x'])
    expect(cache.list().map((item) => item.n)).toEqual([2, 0, 2])
    expect(cache.get('b')).toBe(b)
    // A delete applies what came before it; a value after it re-creates the item, last.
    cache.set('b', { id: 'b', n: 3 })
    expect(cache.delete('b')).toBe(true)
    cache.set('b', { id: 'b', n: 4 })
    expect(cache.has('b')).toBe(true)
    expect(cache.size).toBe(3)
    expect(cache.list()).toEqual([
      { id: 'a', n: 2 },
      { id: 'x', n: 2 },
      { id: 'b', n: 4 },
    ])
    // A sync replaces everything, queued values included.
    cache.set('a', { id: 'a', n: 9 })
    cache.replace(['z'], [{ id: 'z', n: 0 }])
    expect(cache.list()).toEqual([{ id: 'z', n: 0 }])
  })

  it('reconciles only the last of several values queued for one item', () => {
    const cache = new GroupCache<Item>()
    cache.replace(
      ['a', 'b'],
      [
        { id: 'a', n: 0, tags: ['x'] },
        { id: 'b', n: 0, tags: ['y'] },
      ],
    )
    const tags = cache.get('a')?.tags
    // Fresh values are reconciled in place: equal tags become the cached array when they are.
    const first = { id: 'a', n: 1, tags: ['x'] }
    const last = { id: 'a', n: 3, tags: ['x'] }
    cache.set('a', first, true)
    cache.set('b', { id: 'b', n: 1, tags: ['y'] }, true)
    cache.set('a', { id: 'a', n: 2, tags: ['x'] }, true)
    cache.set('a', last, true)
    expect(cache.list().map((item) => item.n)).toEqual([3, 1])
    expect(cache.get('a')).toBe(last)
    expect(last.tags).toBe(tags)
    expect(first.tags).not.toBe(tags)
  })

  it('holds at most QUEUE_LIMIT values when nothing reads it, applying them then', () => {
    const cache = new GroupCache<Item>()
    cache.replace(['a'], [{ id: 'a', n: 0, tags: ['x'] }])
    const tags = cache.get('a')?.tags
    // A fresh value is reconciled in place when applied: its equal tags become the cached ones.
    const value = { id: 'a', n: 1, tags: ['x'] }
    cache.set('a', value, true)
    for (let index = 1; index < QUEUE_LIMIT - 1; index++) cache.set(`i${index}`, { id: 'i', n: 0 })
    expect(value.tags).not.toBe(tags)
    cache.set('last', { id: 'last', n: 0 })
    expect(value.tags).toBe(tags)
    expect(cache.size).toBe(QUEUE_LIMIT)
  })

  it('keeps its lists when a sync brings the same content, and reconciles what changed', () => {
    const cache = new GroupCache<Item>()
    cache.replace(
      ['a', 'b'],
      [
        { id: 'a', n: 0, tags: ['x'] },
        { id: 'b', n: 0 },
      ],
    )
    const items = cache.list()
    const ids = cache.idList()
    cache.replace(
      ['a', 'b'],
      [
        { id: 'a', n: 0, tags: ['x'] },
        { id: 'b', n: 0 },
      ],
    )
    expect(cache.list()).toBe(items)
    expect(cache.idList()).toBe(ids)
    cache.replace(
      ['b', 'a'],
      [
        { id: 'b', n: 0 },
        { id: 'a', n: 1, tags: ['x'] },
      ],
    )
    expect(cache.idList()).toEqual(['b', 'a'])
    expect(cache.get('b')).toBe(items[1])
    expect(cache.get('a')?.tags).toBe(items[0]?.tags)
  })

  it('gives a repeated id in a sync its first place and its last value', () => {
    const cache = new GroupCache<Item>()
    cache.replace(
      ['a', 'b', 'a'],
      [
        { id: 'a', n: 1 },
        { id: 'b', n: 0 },
        { id: 'a', n: 2 },
      ],
    )
    expect(cache.idList()).toEqual(['a', 'b'])
    expect(cache.list()).toEqual([
      { id: 'a', n: 2 },
      { id: 'b', n: 0 },
    ])
  })

  it('patches in place with the engine ops, and refuses an item it does not hold', () => {
    const cache = filled('a', 'b')
    const list = cache.list()
    expect(cache.patch('a', [{ type: 'increment', path: 'n', by: 3 }])).toBe(true)
    expect(cache.get('a')).toEqual({ id: 'a', n: 3 })
    expect(list[0]).toEqual({ id: 'a', n: 0 })
    expect(cache.list()[1]).toBe(list[1])
    expect(cache.patch('zz', [{ type: 'increment', path: 'n', by: 1 }])).toBe(false)
  })
})
