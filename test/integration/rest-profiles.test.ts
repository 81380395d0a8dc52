import { randomUUID } from 'node:crypto';
import { startHarness, Harness, TamsResponse } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';

/** /service/profiles and profile-linked flows (ADR 0047, AppNote 0020). */
describe('REST profiles', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  function videoProfile(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      id: randomUUID(),
      label: '720p25 TS video',
      description: 'house proxy',
      tags: { _ffmpeg_command: '....' },
      flow_metadata: {
        format: 'urn:x-nmos:format:video',
        codec: 'video/h264',
        container: 'video/mp2t',
        avg_bit_rate: 2479,
        segment_duration: { numerator: 6, denominator: 1 },
        essence_parameters: {
          frame_rate: { numerator: 25, denominator: 1 },
          frame_width: 1280,
          frame_height: 720,
          interlace_mode: 'progressive',
        },
      },
      ...overrides,
    };
  }

  function audioProfile(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      id: randomUUID(),
      label: 'stereo aac',
      flow_metadata: {
        format: 'urn:x-nmos:format:audio',
        codec: 'audio/aac',
        container: 'video/mp2t',
        avg_bit_rate: 128,
        essence_parameters: { sample_rate: 48000, channels: 2 },
      },
      ...overrides,
    };
  }

  async function create(profile: Record<string, unknown>): Promise<TamsResponse> {
    return h.request('POST', `/service/profiles/${profile.id as string}`, profile);
  }

  describe('the profile resource', () => {
    it('creates a profile (201), reads it back, and never updates it', async () => {
      const profile = videoProfile({ created: '2000-01-01T00:00:00Z', created_by: 'tams-dev' });
      let res = await create(profile);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ ...profile, created: expect.any(String) });
      expect(res.body.created).not.toBe('2000-01-01T00:00:00Z');
      const created = res.body as Record<string, unknown>;

      res = await h.request('GET', `/service/profiles/${profile.id as string}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(created);
      expect((await h.request('HEAD', `/service/profiles/${profile.id as string}`)).status).toBe(200);

      res = await create({ ...profile, label: 'changed' });
      expect(res.status).toBe(400);
      expect(res.body.type).toBe('ProfileExists');
      expect((await create(profile)).status).toBe(400);
      expect((await h.request('GET', `/service/profiles/${profile.id as string}`)).body).toEqual(created);
    });

    it('answers 404 for unknown and malformed ids, and has no PUT or DELETE', async () => {
      const unknown = randomUUID();
      expect((await h.request('GET', `/service/profiles/${unknown}`)).status).toBe(404);
      expect((await h.request('HEAD', `/service/profiles/${unknown}`)).status).toBe(404);
      expect((await h.request('GET', '/service/profiles/not-a-uuid')).status).toBe(404);
      const profile = videoProfile({ id: 'not-a-uuid' });
      expect((await h.request('POST', '/service/profiles/not-a-uuid', profile)).status).toBe(404);
      const ok = videoProfile();
      expect((await create(ok)).status).toBe(201);
      expect((await h.request('PUT', `/service/profiles/${ok.id as string}`, ok)).status).toBe(404);
      expect((await h.request('DELETE', `/service/profiles/${ok.id as string}`)).status).toBe(404);
    });

    it('refuses invalid profiles', async () => {
      const id = randomUUID();
      const base = videoProfile({ id });
      const meta = base.flow_metadata as Record<string, unknown>;
      const bads: unknown[] = [
        { ...base, id: randomUUID() },
        { id, label: 'no metadata' },
        { ...base, flow_metadata: { ...meta, format: 'urn:x-nmos:format:multi' } },
        { ...base, flow_metadata: { ...meta, format: 'urn:x-nmos:format:nonsense' } },
        { ...base, flow_metadata: { ...meta, codec: undefined } },
        { ...base, flow_metadata: { ...meta, essence_parameters: { frame_width: 1280 } } },
        { ...base, flow_metadata: { ...meta, avg_bit_rate: -1 } },
        { ...base, label: 5 },
        { ...base, tags: { a: 1 } },
        'a profile',
        [base],
      ];
      for (const bad of bads) {
        const res = await h.request('POST', `/service/profiles/${id}`, typeof bad === 'string' ? JSON.stringify(bad) : bad);
        expect(res.status).toBe(400);
        expect(res.body.type).toBe('ValidationError');
      }
      expect((await h.request('GET', `/service/profiles/${id}`)).status).toBe(404);
    });
  });

  describe('the profile list', () => {
    let h2: Harness;
    const video = Array.from({ length: 5 }, (_, i) => videoProfile({ label: i % 2 === 0 ? 'even' : 'odd' }));
    const audio = Array.from({ length: 4 }, () => audioProfile());
    const image = {
      id: randomUUID(),
      label: 'thumbnail',
      flow_metadata: {
        format: 'urn:x-tam:format:image',
        codec: 'image/jpeg',
        essence_parameters: { frame_width: 320, frame_height: 180 },
      },
    };
    beforeAll(async () => {
      h2 = await startHarness();
      for (const p of [...video, ...audio, image]) {
        expect((await h2.request('POST', `/service/profiles/${p.id as string}`, p)).status).toBe(201);
      }
    });
    afterAll(async () => {
      await h2.close();
    });

    async function all(query: string): Promise<{ ids: string[]; pages: number; counts: number[] }> {
      const ids: string[] = [];
      const counts: number[] = [];
      let url: string | undefined = `/service/profiles?${query}`;
      let pages = 0;
      while (url !== undefined) {
        const res = await h2.request('GET', url);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-paging-limit')).toBe('2');
        const head = await h2.request('HEAD', url);
        expect(head.status).toBe(200);
        expect(head.headers.get('link')).toBe(res.headers.get('link'));
        ids.push(...(res.body as { id: string }[]).map((p) => p.id));
        counts.push(res.body.length as number);
        pages++;
        const next = res.headers.get('x-paging-nextkey');
        const link = res.headers.get('link');
        if (next === null) {
          expect(link).toBeNull();
          url = undefined;
        } else {
          expect(link).toContain(`page=${encodeURIComponent(next)}`);
          url = `/service/profiles?${query}&page=${encodeURIComponent(next)}`;
        }
        expect(pages).toBeLessThan(20);
      }
      return { ids, pages, counts };
    }

    const sorted = (items: Record<string, unknown>[]): string[] => items.map((p) => p.id as string).sort();

    it('lists every profile sorted by id, page by page', async () => {
      const res = await h2.request('GET', '/service/profiles');
      expect(res.status).toBe(200);
      expect(res.body.map((p: { id: string }) => p.id)).toEqual(sorted([...video, ...audio, image]));
      const paged = await all('limit=2');
      expect(paged.ids).toEqual(sorted([...video, ...audio, image]));
      expect(paged.pages).toBe(5);
    });

    it('filters on format, codec and label, also across pages', async () => {
      expect((await all('limit=2&format=urn:x-nmos:format:audio')).ids).toEqual(sorted(audio));
      expect((await all('limit=2&format=urn:x-nmos:format:video')).ids).toEqual(sorted(video));
      expect((await all('limit=2&codec=image/jpeg')).ids).toEqual([image.id]);
      expect((await all('limit=2&label=even')).ids).toEqual(sorted(video.filter((p) => p.label === 'even')));
      expect((await all('limit=2&label=odd&format=urn:x-nmos:format:audio')).ids).toEqual([]);
      expect((await all('limit=2&codec=audio/aac&format=urn:x-nmos:format:audio')).ids).toEqual(sorted(audio));
    });

    it('refuses bad query parameters', async () => {
      for (const q of ['format=video', 'codec=h264', 'limit=0', 'limit=x', 'page=garbage', 'label=a&label=b']) {
        const res = await h2.request('GET', `/service/profiles?${q}`);
        expect([q, res.status]).toEqual([q, 400]);
      }
    });
  });

  describe('profile-linked flows', () => {
    it('populates a flow from its profile and keeps profile_id', async () => {
      const profile = videoProfile();
      expect((await create(profile)).status).toBe(201);
      const flow = {
        id: randomUUID(),
        source_id: randomUUID(),
        label: 'capture_1',
        description: 'web capture',
        tags: { input_quality: 'web' },
        max_bit_rate: 4000,
        profile_id: profile.id,
      };
      let res = await h.request('PUT', `/flows/${flow.id}`, flow);
      expect(res.status).toBe(201);
      const expected = { ...flow, ...(profile.flow_metadata as Record<string, unknown>) };
      expect(res.body).toMatchObject(expected);
      res = await h.request('GET', `/flows/${flow.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject(expected);
      expect((await h.request('GET', `/sources/${flow.source_id}`)).body.format).toBe('urn:x-nmos:format:video');
      res = await h.request('GET', `/flows?profile_id=${profile.id as string}`);
      expect(res.body.map((f: { id: string }) => f.id)).toEqual([flow.id]);

      // Replacing it with a profile body again (204) keeps it linked and populated.
      expect((await h.request('PUT', `/flows/${flow.id}`, { ...flow, label: 'capture_2' })).status).toBe(204);
      res = await h.request('GET', `/flows/${flow.id}`);
      expect(res.body).toMatchObject({ ...expected, label: 'capture_2' });

      // avg_bit_rate is the profile's: a PUT is a 400, a DELETE a 403; max_bit_rate is the flow's.
      res = await h.request('PUT', `/flows/${flow.id}/avg_bit_rate`, 1);
      expect(res.status).toBe(400);
      expect(res.body.summary).toContain('profile');
      expect((await h.request('DELETE', `/flows/${flow.id}/avg_bit_rate`)).status).toBe(403);
      expect((await h.request('GET', `/flows/${flow.id}/avg_bit_rate`)).body).toBe(2479);
      expect((await h.request('PUT', `/flows/${flow.id}/max_bit_rate`, 6000)).status).toBe(204);
      expect((await h.request('PUT', `/flows/${flow.id}/label`, JSON.stringify('relabelled'))).status).toBe(204);
      expect((await h.request('GET', `/flows/${flow.id}`)).body.profile_id).toBe(profile.id);

      // GET-modify-PUT without profile_id but unchanged technical metadata stays linked...
      const current = (await h.request('GET', `/flows/${flow.id}`)).body as Record<string, unknown>;
      const withoutProfile: Record<string, unknown> = { ...current, label: 'round trip' };
      delete withoutProfile.profile_id;
      expect((await h.request('PUT', `/flows/${flow.id}`, withoutProfile)).status).toBe(204);
      expect((await h.request('GET', `/flows/${flow.id}`)).body).toMatchObject({ label: 'round trip', profile_id: profile.id });
      // ...while changing technical metadata needs the profile unlinked first.
      const changed = { ...withoutProfile, avg_bit_rate: 9999 };
      res = await h.request('PUT', `/flows/${flow.id}`, changed);
      expect(res.status).toBe(400);
      expect(res.body.summary).toContain('profile_id ""');

      // profile_id "" unlinks; the technical metadata is then the body's.
      expect((await h.request('PUT', `/flows/${flow.id}`, { ...changed, profile_id: '' })).status).toBe(204);
      res = await h.request('GET', `/flows/${flow.id}`);
      expect(res.body.profile_id).toBeUndefined();
      expect(res.body.avg_bit_rate).toBe(9999);
      expect((await h.request('PUT', `/flows/${flow.id}/avg_bit_rate`, 1)).status).toBe(204);
      expect((await h.request('GET', `/flows?profile_id=${profile.id as string}`)).body).toEqual([]);
    });

    it('refuses unknown profiles and profile_id mixed with technical metadata', async () => {
      const profile = videoProfile();
      expect((await create(profile)).status).toBe(201);
      const base = { id: randomUUID(), source_id: randomUUID(), label: 'x' };
      let res = await h.request('PUT', `/flows/${base.id}`, { ...base, profile_id: randomUUID() });
      expect(res.status).toBe(400);
      expect(res.body.summary).toContain('does not exist');
      for (const extra of [
        { codec: 'video/h264' },
        { container: 'video/mp2t' },
        { avg_bit_rate: 10 },
        { format: 'urn:x-nmos:format:video' },
        { essence_parameters: { frame_width: 1, frame_height: 1, frame_rate: { numerator: 1 } } },
        videoFlow({ id: base.id, source_id: base.source_id }),
      ]) {
        res = await h.request('PUT', `/flows/${base.id}`, { ...base, ...extra, profile_id: profile.id });
        expect([extra, res.status]).toEqual([extra, 400]);
      }
      expect((await h.request('PUT', `/flows/${base.id}`, { ...base, profile_id: 'not-a-uuid' })).status).toBe(400);
      expect((await h.request('PUT', `/flows/${base.id}`, { ...base, profile_id: '' })).status).toBe(400);
      expect((await h.request('GET', `/flows/${base.id}`)).status).toBe(404);
      // A flow of another format on the same source is a conflict, whatever supplied the format.
      const audio = audioProfile();
      expect((await create(audio)).status).toBe(201);
      expect((await h.request('PUT', `/flows/${base.id}`, { ...base, profile_id: profile.id })).status).toBe(201);
      const sibling = { id: randomUUID(), source_id: base.source_id, profile_id: audio.id };
      expect((await h.request('PUT', `/flows/${sibling.id}`, sibling)).status).toBe(400);
    });

    it('writes flows/created with the populated flow', async () => {
      const profile = audioProfile();
      expect((await create(profile)).status).toBe(201);
      const seq = await h.gateway.store.lastEventSeq();
      const flow = { id: randomUUID(), source_id: randomUUID(), profile_id: profile.id };
      expect((await h.request('PUT', `/flows/${flow.id}`, flow)).status).toBe(201);
      const events = await h.gateway.store.readEvents(seq, 100);
      const created = events.find((e) => e.event_type === 'flows/created');
      expect((created?.event as { flow: unknown }).flow).toMatchObject({
        ...flow,
        ...(profile.flow_metadata as Record<string, unknown>),
      });
    });
  });
});
