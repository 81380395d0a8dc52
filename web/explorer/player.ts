/**
 * The explorer's player: hls.js over Media Source Extensions, or the browser's own HLS (Safari)
 * where MSE is missing. Its state (idle, loading, playing, paused, error) is on the video's
 * data-player-state, for tests and tools.
 */
import Hls from 'hls.js';
import { authorizationOf } from './gateway-api';

export type PlayerState = 'idle' | 'loading' | 'playing' | 'paused' | 'error';

/** `url` with the token as `access_token`, for a player that cannot send headers. */
export function withAccessToken(url: string, token: string): string {
  const trimmed = token.trim();
  if (trimmed === '' || /^Basic\s/i.test(trimmed)) return url;
  const parsed = new URL(url, location.href);
  parsed.searchParams.set('access_token', trimmed.replace(/^Bearer\s+/i, ''));
  return parsed.href;
}

export class Player {
  private hls: Hls | undefined;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly status: HTMLElement,
    private readonly token: () => string,
  ) {
    this.setState('idle', '');
    video.addEventListener('playing', () => this.setState('playing', ''));
    video.addEventListener('pause', () => {
      if (this.state() === 'playing') this.setState('paused', '');
    });
    video.addEventListener('error', () => this.setState('error', `the browser cannot play this media (${video.error?.message || `code ${video.error?.code}`})`));
  }

  /** Loads the playlist at `url` and starts playing it (muted, so no gesture is needed). */
  play(url: string): void {
    this.stop();
    this.setState('loading', '');
    this.video.muted = true;
    if (Hls.isSupported()) {
      const hls = new Hls({
        xhrSetup: (xhr, requestUrl) => {
          xhr.open('GET', requestUrl, true);
          const authorization = authorizationOf(this.token());
          // Only the gateway gets the token; a redirect elsewhere (signed URL) needs none.
          if (authorization !== undefined && new URL(requestUrl, location.href).origin === location.origin) xhr.setRequestHeader('authorization', authorization);
        },
      });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) this.setState('error', `${data.type}: ${data.details}${data.response?.code ? ` (HTTP ${data.response.code})` : ''}`);
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        this.video.play().catch((err: unknown) => this.setState('error', `play() refused: ${String(err)}`));
      });
      hls.loadSource(url);
      hls.attachMedia(this.video);
      this.hls = hls;
      return;
    }
    if (this.video.canPlayType('application/vnd.apple.mpegurl') !== '') {
      this.video.src = withAccessToken(url, this.token());
      this.video.play().catch((err: unknown) => this.setState('error', `play() refused: ${String(err)}`));
      return;
    }
    this.setState('error', 'this browser has neither Media Source Extensions nor HLS playback');
  }

  stop(): void {
    this.hls?.destroy();
    this.hls = undefined;
    this.video.removeAttribute('src');
    this.video.load();
    this.setState('idle', '');
  }

  private state(): string | undefined {
    return this.video.dataset.playerState;
  }

  private setState(state: PlayerState, detail: string): void {
    this.video.dataset.playerState = state;
    this.status.textContent = detail === '' ? state : `${state}: ${detail}`;
  }
}
