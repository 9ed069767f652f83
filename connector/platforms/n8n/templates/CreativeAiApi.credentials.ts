import type {
	IAuthenticateGeneric,
	Icon,
	ICredentialTestRequest,
	ICredentialType,
	INodeProperties,
} from 'n8n-workflow';

export class CreativeAiApi implements ICredentialType {
	name = __CREDENTIAL__;

	displayName = 'CreativeAI API';

	icon: Icon = __ICON__;

	documentationUrl = __DOCS_URL__;

	properties: INodeProperties[] = __PROPERTIES__;

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization: '=Bearer {{$credentials.apiKey}}',
			},
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl}}',
			url: __TEST_PATH__,
			method: 'GET',
		},
		rules: __TEST_RULES__,
	};
}
