/** Templates: an app's message templates, edited with a live preview (the text as sent, its parts and its cost). */
import { useEffect, useState } from 'preact/hooks';
import { Problem, del, get, post, put, type List, type Template } from '../api.js';
import { ActionForm, Card, Empty, Field, Loading, Page, ProblemBox, WithApp, fmt, useAction, useLoad } from '../ui.js';

interface Preview { text: string; encoding: string; parts: number; cost: number; currency: string }
const blank = { id: '', channel: 'sms', name: '', locale: '', text: 'Your {{app}} code is {{pin}}. It expires in {{ttl}} minutes.' };

export function Templates() {
  return <Page title="Templates"><WithApp>{(app, picker) => <TemplateEditor appId={app.id} picker={picker} />}</WithApp></Page>;
}

function TemplateEditor({ appId, picker }: { appId: string; picker: preact.ComponentChildren }) {
  const list = useLoad(() => get<List<Template>>(`/admin/v1/apps/${appId}/templates`), [appId]);
  const [draft, setDraft] = useState(blank);
  const [to, setTo] = useState('+33612345678');
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const save = useAction();
  const set = (k: keyof typeof blank) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });

  // The preview follows the text as it is typed (a quarter of a second after the last key).
  useEffect(() => {
    const t = setTimeout(() => {
      post<Preview>(`/admin/v1/apps/${appId}/templates/preview`, { channel: draft.channel, to, text: draft.text, ...(draft.locale ? { locale: draft.locale } : {}) })
        .then((p) => { setPreview(p); setPreviewError(null); }, (e: unknown) => { setPreview(null); setPreviewError(e); });
    }, 250);
    return () => clearTimeout(t);
  }, [appId, draft.channel, draft.text, draft.locale, to]);

  const submit = async () => {
    const body = { channel: draft.channel, name: draft.name.trim(), locale: draft.locale.trim() || null, text: draft.text };
    if (draft.id) await put(`/admin/v1/apps/${appId}/templates/${draft.id}`, body);
    else await post(`/admin/v1/apps/${appId}/templates`, body);
    setDraft(blank);
    list.reload();
  };
  const email = draft.channel === 'email';
  return (
    <>
      <div class="filters">{picker}</div>
      <div class="grid2">
        <Card title={draft.id ? `Edit ${draft.name}` : 'New template'}>
          <ActionForm act={save} onSubmit={submit}>
            <div class="row">
              <Field label="Channel">
                <select value={draft.channel} onChange={set('channel')}>{['sms', 'whatsapp', 'voice'].map((c) => <option key={c} value={c}>{c}</option>)}</select>
              </Field>
              <Field label="Name"><input required maxLength={100} value={draft.name} onInput={set('name')} /></Field>
              <Field label="Language" hint="e.g. fr; empty: any"><input maxLength={35} size={6} value={draft.locale} onInput={set('locale')} /></Field>
            </div>
            <Field label="Text" hint="{{pin}} is the code (required); {{ttl}} the minutes it lasts; {{app}} the app's name">
              <textarea rows={4} required maxLength={1600} value={draft.text} onInput={set('text')} />
            </Field>
            <div class="row">
              <button type="submit" disabled={save.busy || email}>{draft.id ? 'Save changes' : 'Create template'}</button>
              {draft.id && <button type="button" class="secondary" onClick={() => setDraft(blank)}>New template instead</button>}
            </div>
          </ActionForm>
          <ProblemBox error={save.error} />
        </Card>
        <Card title="Preview">
          <Field label="Sample recipient" hint="The destination decides the price and the encoding's cost"><input value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} /></Field>
          {previewError instanceof Problem ? <ProblemBox error={previewError} /> : null}
          {preview && (
            <div aria-live="polite" data-testid="preview">
              <p class="bubble">{preview.text}</p>
              <p class="muted">{preview.encoding}, {preview.parts} part{preview.parts === 1 ? '' : 's'}, {fmt.money(preview.cost, preview.currency)}</p>
            </div>
          )}
        </Card>
      </div>
      <ProblemBox error={list.error} />
      {list.loading && !list.data && <Loading what="templates" />}
      {list.data?.data.length === 0 && <Empty title="No template: the built-in texts are used"><p>otpd writes every message in the recipient's language (29 built in). Add a template to use your own words.</p></Empty>}
      {list.data && list.data.data.length > 0 && (
        <table>
          <caption>Templates</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Channel</th><th scope="col">Language</th><th scope="col">Text</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>{list.data.data.map((t) => (
            <tr key={t.id}>
              <th scope="row">{t.name}</th><td>{t.channel}</td><td>{t.locale ?? 'any'}</td><td class="clip">{t.text}</td>
              <td><div class="row">
                <button type="button" class="secondary small" onClick={() => setDraft({ id: t.id, channel: t.channel, name: t.name, locale: t.locale ?? '', text: t.text })}>Edit</button>
                <button type="button" class="danger small" onClick={() => confirm(`Delete the template ${t.name}?`) && save.run(async () => { await del(`/admin/v1/apps/${appId}/templates/${t.id}`); list.reload(); })}>Delete</button>
              </div></td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </>
  );
}
